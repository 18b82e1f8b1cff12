"""User-facing store errors: the CLI prints their message on one line and exits with code 2."""


class StoreError(Exception):
    """A missing, corrupt or incompatible study database; the message names the file and the fix."""


class StoreWriteError(StoreError):
    """The database stopped accepting writes (disk full, I/O error); rows committed before stay intact."""
