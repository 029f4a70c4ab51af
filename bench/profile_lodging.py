"""Profile the Python CPU of lodging complaints one after another on PostgreSQL.

Creates a fresh PostgreSQL database, builds the container as configured, lodges
``--warmup`` complaints untimed, then lodges ``--count`` complaints with
``container.complaints.lodge(Principal.anonymous(), lodge_command())`` under cProfile,
inline catch-up of the projections and commit listeners included. Prints the process CPU
per lodging (measured without the profiler first) and the functions with the most time
under the profiler, by their own time and inclusive of callees. The database is dropped
afterwards.

    PYTHONPATH=. .venv/bin/python bench/profile_lodging.py [--count 2000] [--top 30] \
        [--output lodging.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from tests.factories import lodge_command

from cms_graph.application.identity import Principal
from cms_graph.bootstrap import build_container
from cms_graph.settings import load_settings

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="lodgings to profile")
    parser.add_argument("--warmup", type=int, default=200, help="untimed lodgings first")
    parser.add_argument("--top", type=int, default=30, help="functions to list")
    parser.add_argument("--output", type=Path, help="also write the pstats data here")
    arguments = parser.parse_args()

    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = SERVER.rsplit("/", 1)[0] + "/" + name
        settings = load_settings(
            _env_file=None, database_url=url, data_dir=Path(tempfile.mkdtemp())
        )
        container = build_container(settings)
        anonymous = Principal.anonymous()
        commands = [lodge_command() for _ in range(arguments.warmup + 2 * arguments.count)]
        try:
            for command in commands[: arguments.warmup]:
                container.complaints.lodge(anonymous, command)
            timed = commands[arguments.warmup : arguments.warmup + arguments.count]
            started_cpu, started_thread = time.process_time(), time.thread_time()
            started = time.perf_counter()
            for command in timed:
                container.complaints.lodge(anonymous, command)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - started_cpu
            thread_cpu = time.thread_time() - started_thread
            print(
                f"{arguments.count} lodgings in {elapsed:.2f} s, "
                f"{arguments.count / elapsed:,.0f}/s; "
                f"CPU each: {1000 * cpu / arguments.count:.3f} ms of the process, "
                f"{1000 * thread_cpu / arguments.count:.3f} ms of the lodging thread"
            )
            # Thread CPU time, so that waiting for PostgreSQL and other threads' work do
            # not count.
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            for command in commands[arguments.warmup + arguments.count :]:
                container.complaints.lodge(anonymous, command)
            profiler.disable()
        finally:
            container.close()
        stats = pstats.Stats(profiler)
        if arguments.output:
            stats.dump_stats(arguments.output)
        stats.strip_dirs().sort_stats("tottime").print_stats(arguments.top)
        stats.sort_stats("cumulative").print_stats(arguments.top)
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
