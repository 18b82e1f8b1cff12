"""The crash-safe SQLite study store: schema migrations, the per-session buffered writer, CSV/Parquet export."""
from fep_motion.store.db import EventRow, HeardRecord, SessionInfo, Store
from fep_motion.store.errors import StoreError
from fep_motion.store.migrations import Migration, migration
from fep_motion.store.writer import SessionWriter

__all__ = ["EventRow", "HeardRecord", "Migration", "SessionInfo", "SessionWriter", "Store", "StoreError", "migration"]
