"""Time `cms-graph import` of the whole COPA file into PostgreSQL and into SQLite.

For each store the script runs the command twice as a separate process on a fresh store:
the first run imports the file, the second finds every row already imported. It reports
wall time, rows per second, the time spent on projections and the peak resident memory
(RSS) of each process. The PostgreSQL database and the SQLite folder are removed
afterwards.

    .venv/bin/python bench/import_copa.py [--file ../shared/data/copa_cms_lifecycle_2019_2022.csv]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_FILE = REPOSITORY.parent / "shared" / "data" / "copa_cms_lifecycle_2019_2022.csv"
MAPPING = REPOSITORY / "imports" / "copa_cms_lifecycle.toml"
COMMAND = REPOSITORY / ".venv" / "bin" / "cms-graph"
SUMMARY = re.compile(
    r"imported (?P<imported>[\d,]+), already imported (?P<already>[\d,]+), "
    r"rejected (?P<rejected>[\d,]+) of (?P<rows>[\d,]+) rows in (?P<seconds>[\d.]+) s "
    r"\((?P<rate>[\d,]+) rows/s; projections took (?P<projections>[\d.]+) s\)"
)


def run_import(csv_path: Path, data_dir: Path, database_url: str) -> dict[str, str]:
    """Run one import as a child process; return its summary fields, wall time and peak RSS."""
    environment = os.environ | {
        "CMS_DATA_DIR": str(data_dir),
        "CMS_DATABASE_URL": database_url,
        "CMS_BROKER_URL": "",
        "CMS_DEMO_DATA": "false",
        "CMS_LOG_LEVEL": "WARNING",
    }
    arguments = [
        str(COMMAND),
        "import",
        str(csv_path),
        "--mapping",
        str(MAPPING),
        "--rejects",
        str(data_dir / "rejects.csv"),
    ]

    started = time.perf_counter()
    process = subprocess.Popen(  # fixed arguments, our own command
        arguments,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    # wait4 returns the resource usage of this child alone; ru_maxrss is in KiB on Linux.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started

    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"cms-graph import failed with status {status}:\n{output}")
    match = SUMMARY.search(output)
    if match is None:
        sys.exit(f"no summary line in the output of cms-graph import:\n{output}")
    return match.groupdict() | {"wall": f"{wall:.1f}", "rss": f"{usage.ru_maxrss / 1024:.0f}"}


def report(store: str, run: str, fields: dict[str, str]) -> None:
    print(
        f"| {store} | {run} | {fields['rows']} | {fields['imported']} | {fields['already']} | "
        f"{fields['rejected']} | {fields['seconds']} s | {fields['rate']} | "
        f"{fields['projections']} s | {fields['wall']} s | {fields['rss']} MiB |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="CSV file to import")
    arguments = parser.parse_args()
    if not arguments.file.is_file():
        sys.exit(f"{arguments.file} not found; pass the COPA file with --file")

    print(
        "| store | run | rows | imported | already imported | rejected | import time | "
        "rows/s | projections | process wall time | peak RSS |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    data_dir = Path(tempfile.mkdtemp(prefix="cms-import-bench-"))
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = SERVER.rsplit("/", 1)[0] + "/" + name
        for run in ("first", "again"):
            report("PostgreSQL", run, run_import(arguments.file, data_dir / "postgres", url))
        for run in ("first", "again"):
            report("SQLite", run, run_import(arguments.file, data_dir / "sqlite", ""))
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
