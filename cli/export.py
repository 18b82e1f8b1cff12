"""`fep-motion export STUDY.db --format csv|parquet --out DIR`: one file per table, blobs expanded to named columns."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a study database to CSV or Parquet (one file per table)",
        description="Export every table of a study database; pose/feature blobs become named columns.",
    )
    p.add_argument("db", help="study database (SQLite), e.g. out/study.db")
    p.add_argument("--format", default="csv", choices=("csv", "parquet"), help="output format (parquet needs pyarrow)")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from fep_motion.store.export import export_study

    paths = export_study(args.db, args.format, args.out)
    for path in paths:
        print(path)
    return 0
