"""Export a study database to one CSV (or Parquet) file per table, with binary blobs expanded to named columns.

Landmark blobs become `<landmark>_{x,y,z,vis}` columns, observation blobs `<feature>` / `mask_<feature>` /
`conf_<feature>`, agent poses `<dof>`, stage latencies `ms_<stage>` — so analysis tools need no knowledge of blobs.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fep_motion.store.db import Store
from fep_motion.store.errors import StoreError
from perception.types import FEATURE_NAMES, LANDMARK_NAMES
from sampling.primitives.base import DOF_NAMES

FORMATS: tuple[str, ...] = ("csv", "parquet")


def _blob_columns(table: str, col: str, stage_names: list[str]) -> list[str] | None:
    if table == "frames" and col == "landmarks":
        return [f"{n}_{a}" for n in LANDMARK_NAMES for a in ("x", "y", "z", "vis")]
    if table == "frames" and col == "world":
        return [f"world_{n}_{a}" for n in LANDMARK_NAMES for a in ("x", "y", "z")]
    if table == "frames" and col == "agent_pose":
        return [f"agent_{d}" for d in DOF_NAMES]
    if table == "frames" and col == "stage_ms":
        return [f"ms_{s}" for s in stage_names]
    if table == "observations" and col == "features":
        return list(FEATURE_NAMES)
    if table == "observations" and col == "mask":
        return [f"mask_{f}" for f in FEATURE_NAMES]
    if table == "observations" and col == "confidence":
        return [f"conf_{f}" for f in FEATURE_NAMES]
    return None


_DTYPES = {"landmarks": np.float32, "world": np.float32, "agent_pose": np.float32, "stage_ms": np.float32,
           "features": np.float64, "mask": np.uint8, "confidence": np.float64}


def _stage_names(conn: sqlite3.Connection) -> list[str]:
    row = conn.execute("SELECT value FROM session_meta WHERE key = 'stage_names' LIMIT 1").fetchone()
    return list(json.loads(row[0])) if row else []


def table_rows(conn: sqlite3.Connection, table: str) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and rows of `table` with blob columns expanded (NaN for NULL blobs)."""
    cur = conn.execute(f"SELECT * FROM {table}")  # table names come from sqlite_master, never from the user
    cols = [d[0] for d in cur.description]
    stages = _stage_names(conn)
    expand = {c: _blob_columns(table, c, stages) for c in cols}
    header: list[str] = []
    for c in cols:
        header.extend(expand[c] if expand[c] is not None else [c])

    def rows() -> Iterator[list[Any]]:
        for r in cur:
            out: list[Any] = []
            for c, v in zip(cols, r):
                names = expand[c]
                if names is None:
                    out.append(v)
                    continue
                arr = np.frombuffer(v, _DTYPES[c]) if v is not None else np.full(len(names), np.nan)
                vals = arr.tolist()
                vals = (vals + [float("nan")] * len(names))[: len(names)]
                out.extend(vals)
            yield out

    return header, rows()


def export_study(db_path: str | Path, fmt: str, out_dir: str | Path) -> list[Path]:
    """Write one file per table of `db_path` into `out_dir`; returns the written paths."""
    if fmt not in FORMATS:
        raise StoreError(f"--format {fmt!r} is not supported: use one of {', '.join(FORMATS)}")
    if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise StoreError(
            "--format parquet needs pyarrow, which is not installed: `pip install pyarrow`, or use --format csv")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with Store.open(db_path, create=False, recover=False) as store:
        tables = [
            r[0]
            for r in store.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        ]
        for table in sorted(tables):
            header, rows = table_rows(store.conn, table)
            path = out / f"{table}.{fmt}"
            if fmt == "csv":
                with open(path, "w", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(header)
                    for r in rows:
                        w.writerow(r)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                data = list(rows)
                columns = {h: [r[i] for r in data] for i, h in enumerate(header)}
                pq.write_table(pa.table(columns), path)
            written.append(path)
    return written
