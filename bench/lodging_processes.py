"""Lodge from several processes, as several API processes would, against plain INSERTs.

``bench/lodging.py`` runs every writer as a thread of one process, so lodging there can
use at most the one core that the GIL gives a process. This script spreads the same
writers over PROCESSES processes, each with its own container (pools as configured). It
does so for the ``insert`` baseline and the lodging variants alike. It reports each rate,
its ratio to ``insert``, and the CPU that each operation costs the client processes and
the database's server processes together. That cost bounds the ratio: once the cores are
busy, an operation that costs k times the CPU of a plain INSERT cannot run at more than
1/k of its rate, however the work is spread.

    PYTHONPATH=. .venv/bin/python bench/lodging_processes.py [--processes 1,2] \
        [--writers 16] [--seconds 10] [--warmup 2] [--variants lodge,event-only]

Each lodging process opens pools of up to 30 connections, so with PostgreSQL's default
``max_connections`` of 100 four processes already fail with "too many clients".
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import psycopg
from bench.lodging import (
    LODGING_VARIANTS,
    benchmark_database,
    event_only,
    load_average,
    lodge,
    machine_cpu_seconds,
    open_container,
    plain_connections,
    plain_insert,
)


@dataclass(frozen=True)
class Share:
    """The operations and CPU time of one child process in the timed window."""

    operations: int
    cpu_seconds: float


@dataclass(frozen=True)
class Job:
    """A variant for one child process: its writers and the timing they share."""

    variant: str
    url: str
    data_dir: Path
    state: bytes
    topic: str
    writers: int
    warmup: float
    seconds: float


def _count_in_window(job: Job, operations: list[Any], ready: Barrier) -> Share:
    """Run one thread per operation; count the operations that end in the timed window.

    ``ready`` is passed twice: once to start with the other processes, once more after the
    window so that the parent reads the server's CPU before the connections close.
    """
    completions = [0] * len(operations)
    ready.wait()
    began = time.perf_counter()
    window_start, window_end = began + job.warmup, began + job.warmup + job.seconds
    cpu_at: dict[str, float] = {}

    def work(index: int) -> None:
        operation = operations[index]
        while (now := time.perf_counter()) < window_end:
            operation()
            if now >= window_start:
                completions[index] += 1

    def clock() -> None:
        time.sleep(max(0.0, window_start - time.perf_counter()))
        cpu_at["start"] = time.process_time()
        time.sleep(max(0.0, window_end - time.perf_counter()))
        cpu_at["end"] = time.process_time()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(operations))]
    threads.append(threading.Thread(target=clock))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Keep the connections open until the parent has read their server processes' CPU.
    ready.wait(timeout=120)
    return Share(sum(completions), cpu_at["end"] - cpu_at["start"])


def run_child(job: Job, ready: Barrier, results: Any) -> None:
    """Run the job's writers in a child process and put their Share on ``results``."""
    if job.variant == "insert":
        with plain_connections(job.url, job.writers) as connections:
            operations = [plain_insert(c, job.state, job.topic) for c in connections]
            results.put(_count_in_window(job, operations, ready))
        return
    with open_container(job.url, job.data_dir, "default", job.writers) as container:
        if job.variant == "lodge-no-projection":
            container.complaints.after_commit = lambda _notification_id: None
        operation = event_only(container) if job.variant == "event-only" else lodge(container)
        results.put(_count_in_window(job, [operation] * job.writers, ready))


@dataclass(frozen=True)
class Result:
    variant: str
    processes: int
    rate: float
    process_cpu: float  # CPU seconds per second, all child processes together
    server_cpu: float  # CPU seconds per second, the database's server processes
    machine_cpu_per_operation: float  # busy seconds of all cores per operation

    @property
    def cpu_per_operation(self) -> float:
        """Seconds of CPU per operation, in the client processes and their server processes."""
        return (self.process_cpu + self.server_cpu) / max(self.rate, 1e-9)


def run_variant(job: Job, processes: int) -> Result:
    """Run ``job.writers`` writers spread over ``processes`` child processes."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(processes + 1)
    results = context.Queue()
    per_process = [
        job.writers // processes + (i < job.writers % processes) for i in range(processes)
    ]
    children = [
        context.Process(target=run_child, args=(_with_writers(job, n), ready, results))
        for n in per_process
    ]
    for child in children:
        child.start()

    ready.wait(timeout=120)
    time.sleep(job.warmup)
    busy_before, _total = machine_cpu_seconds()
    server_before = server_cpu_seconds(job.url)
    time.sleep(job.seconds)
    busy_after, _total = machine_cpu_seconds()
    server_after = server_cpu_seconds(job.url)
    ready.wait(timeout=120)  # the children keep their connections open until now

    shares = [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        if child.exitcode != 0:
            raise RuntimeError(f"{job.variant}: a child process ended with {child.exitcode}")
    operations = sum(share.operations for share in shares)
    busy = busy_after - busy_before
    return Result(
        variant=job.variant,
        processes=processes,
        rate=operations / job.seconds,
        process_cpu=sum(share.cpu_seconds for share in shares) / job.seconds,
        server_cpu=sum(
            seconds - server_before.get(pid, 0.0) for pid, seconds in server_after.items()
        )
        / job.seconds,
        machine_cpu_per_operation=busy / max(1, operations),
    )


def server_cpu_seconds(url: str) -> dict[int, float]:
    """Return the CPU seconds used so far by each server process of ``url``'s database.

    The processes are PostgreSQL's backends connected to that database, read from
    /proc/PID/stat (user and system time), so other databases' work on the machine does
    not count. This script's own monitoring connection is left out.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    with psycopg.connect(url, autocommit=True) as connection:
        pids = [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the backend ended in the meantime
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return seconds


def _with_writers(job: Job, writers: int) -> Job:
    return Job(
        job.variant, job.url, job.data_dir, job.state, job.topic, writers, job.warmup, job.seconds
    )


def describe(result: Result, baseline: Result) -> str:
    ratio = result.rate / baseline.rate
    bound = baseline.cpu_per_operation / result.cpu_per_operation
    return (
        f"  {result.variant:19} {result.processes} processes {result.rate:8,.0f}/s "
        f"{ratio:.2f} of insert; CPU s/s: clients {result.process_cpu:.2f}, "
        f"server {result.server_cpu:.2f}; "
        f"CPU per operation {result.cpu_per_operation * 1000:.2f} ms "
        f"(insert's / this: {bound:.2f}), "
        f"machine busy per operation {result.machine_cpu_per_operation * 1000:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="comma-separated process counts to try (default: 1,2)",
    )
    parser.add_argument("--writers", type=int, default=16, help="writer threads in all")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per variant")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed seconds first")
    parser.add_argument(
        "--variants",
        type=lambda text: text.split(","),
        default=["lodge", "event-only"],
        help=f"lodging variants besides insert (from: {', '.join(LODGING_VARIANTS)})",
    )
    arguments = parser.parse_args()
    unknown = set(arguments.variants) - set(LODGING_VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {LODGING_VARIANTS}")

    with benchmark_database(arguments.writers) as (url, data_dir, state, topic):
        print(
            f"{arguments.writers} writers in all, {arguments.seconds:g} s per variant after "
            f"{arguments.warmup:g} s warm-up, {os.cpu_count()} cores"
        )
        print(f"load average (1 min) before: {load_average()}")
        for processes in arguments.processes:
            baseline = None
            for variant in ["insert", *arguments.variants]:
                if variant == "lodge":
                    # Apply what the variants without the projection left, untimed.
                    with open_container(url, data_dir, "default", 1) as container:
                        container.complaint_projection.catch_up()
                job = Job(
                    variant,
                    url,
                    data_dir,
                    state,
                    topic,
                    arguments.writers,
                    arguments.warmup,
                    arguments.seconds,
                )
                result = run_variant(job, processes)
                baseline = baseline or result
                print(describe(result, baseline), flush=True)
        print(f"load average (1 min) after: {load_average()}")


if __name__ == "__main__":
    main()
