import sys

from fep_motion.cli import main

sys.exit(main())
