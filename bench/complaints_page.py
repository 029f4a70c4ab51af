"""Compare the request rate of a 50-complaint page with `{ __typename }` on one API server.

Lodges COMPLAINTS complaints across every police station of the unit hierarchy into a
fresh PostgreSQL database through ``container.complaints.lodge``, then starts
``cms-graph serve`` (uvicorn, one process, in-process workers, log level WARNING) on
127.0.0.1 as a subprocess. CLIENTS concurrent connections then post, for SECONDS
seconds each, either ``complaints(first: 50)`` selecting 12 fields of every Complaint or
``{ __typename }``, both with a COMPLAINT_CELL token for the whole province. Each round
measures both queries, after an untimed warm-up of each, and reads the CPU time that the
server process and the database's PostgreSQL backends used during each measurement from
/proc, so the CPU cost per request is reported beside the rate. The load comes from wrk with a
Lua script (``--client wrk``, the default) or from httpx on asyncio in this process
(``--client httpx``). The server and the database are removed afterwards.

With ``--sketch`` a second server runs through bench/serve_cached_validation.py, which
caches parsed and validated queries, and each round measures both servers in turn.

With ``--py-spy PATH`` the script loads the page once more while py-spy records the
server's thread that holds the GIL, keeps the raw profile (``--profile-output``), and
prints the functions with the most samples (see bench/profile_top.py).

    PYTHONPATH=. .venv/bin/python bench/complaints_page.py [--complaints 2000] \
        [--clients 8] [--seconds 10] [--rounds 2] [--client wrk] [--sketch] \
        [--py-spy /tmp/pyspy-venv/bin/py-spy]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import psycopg
from tests.factories import lodge_command

from cms_graph.adapters.tokens import TokenService
from cms_graph.application.identity import Principal
from cms_graph.bootstrap import Container, build_container
from cms_graph.domain.units import UnitLevel
from cms_graph.domain.values import ComplaintCategory, Role
from cms_graph.settings import load_settings

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
WRK = shutil.which("wrk") or "wrk"
SECRET = "benchmark-only-signing-secret-0123456789"  # signs tokens for this run only

PAGE_QUERY = """
{ complaints(first: 50) { edges { node {
    id trackingNumber status category channel language districtId unitId
    escalationLevel holderRank lodgedAt dueAt
} } } }
"""
TYPENAME_QUERY = "{ __typename }"
QUERIES = {"page": PAGE_QUERY, "__typename": TYPENAME_QUERY}

# wrk runs this script in each of its threads. It posts the body and, when the run ends,
# prints the totals, errors and latency percentiles (in microseconds) as one JSON line.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [==[BODY]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer TOKEN"

function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        '{"requests": %d, "seconds": %f, "p95_us": %d, "p50_us": %d, "non_2xx": %d, '
        .. '"socket_errors": %d}\\n',
        summary.requests, summary.duration / 1e6, latency:percentile(95),
        latency:percentile(50), errors.status,
        errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass
class Load:
    query: str
    requests: int
    seconds: float
    p50: float
    p95: float
    # CPU seconds that the server process and PostgreSQL's backends for the benchmark
    # database used during this load (zero where not measured).
    server_cpu: float = 0.0
    database_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def cpu_per_request(self, seconds: float) -> float:
        return seconds / self.requests if self.requests else 0.0


def seed(container: Container, complaints: int, threads: int) -> None:
    """Lodge complaints at every police station in turn, in several threads."""
    stations = container.units.units_at(UnitLevel.POLICE_STATION)
    categories = list(ComplaintCategory)
    anonymous = Principal.anonymous()
    counter = itertools.count()
    errors: list[BaseException] = []

    def lodge_some() -> None:
        while (index := next(counter)) < complaints:
            station = stations[index % len(stations)]
            district = container.units.ancestor_at(station.id, UnitLevel.DISTRICT)
            assert district is not None
            command = lodge_command(
                district_id=district.id,
                station_id=station.id,
                category=categories[index % len(categories)],
            )
            try:
                container.complaints.lodge(anonymous, command)
            except BaseException as error:  # reported after the threads stop
                errors.append(error)
                return

    workers = [threading.Thread(target=lodge_some) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise RuntimeError(f"seeding failed: {errors[0]!r}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start_server(url: str, port: int, data_dir: Path, sketch: bool) -> subprocess.Popen[bytes]:
    environment = os.environ | {
        "CMS_DATABASE_URL": url,
        "CMS_JWT_SECRET": SECRET,
        "CMS_DATA_DIR": str(data_dir),
        "CMS_DEMO_DATA": "false",
        "CMS_LOG_LEVEL": "WARNING",
    }
    environment.pop("CMS_BROKER_URL", None)
    program = ["-m", "cms_graph"]
    if sketch:
        program = [str(Path(__file__).with_name("serve_cached_validation.py"))]
    server = subprocess.Popen(
        [sys.executable, *program, "serve", "--host", HOST, "--port", str(port)],
        env=environment,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode} at start")
        try:
            if httpx.get(f"http://{HOST}:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"the server did not respond to /healthz on port {port} within 60 s")


def check_queries(endpoint: str, token: str, page_size: int) -> None:
    """Raise unless both queries succeed and the page contains page_size complaints."""
    headers = {"Authorization": f"Bearer {token}"}
    bodies = {}
    for name, query in QUERIES.items():
        response = httpx.post(endpoint, json={"query": query}, headers=headers, timeout=30)
        bodies[name] = response.json()
        if response.status_code != 200 or bodies[name].get("errors"):
            raise RuntimeError(f"query {name} failed: {response.status_code} {bodies[name]}")
    edges = bodies["page"]["data"]["complaints"]["edges"]
    if len(edges) != page_size:
        raise RuntimeError(f"the page contains {len(edges)} complaints, expected {page_size}")


def load_with_wrk(
    endpoint: str, token: str, name: str, clients: int, seconds: float, work: Path
) -> Load:
    script = work / f"{name.strip('_')}.lua"
    body = json.dumps({"query": QUERIES[name]})
    script.write_text(WRK_SCRIPT.replace("BODY", body).replace("TOKEN", token))
    completed = subprocess.run(
        [
            WRK,
            "--threads",
            "2",
            "--connections",
            str(clients),
            "--duration",
            f"{seconds:g}s",
            "--timeout",
            "10s",
            "--script",
            str(script),
            endpoint,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError(f"wrk on {name}: {result}")
    return Load(
        name,
        result["requests"],
        result["seconds"],
        result["p50_us"] / 1e6,
        result["p95_us"] / 1e6,
    )


async def _load_with_httpx(
    endpoint: str, token: str, name: str, clients: int, seconds: float
) -> Load:
    latencies: list[float] = []
    payload = {"query": QUERIES[name]}
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one_client(end_at: float) -> None:
            while (began := time.perf_counter()) < end_at:
                response = await client.post(endpoint, json=payload, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: status {response.status_code}")
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(one_client(started + seconds) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return Load(name, len(latencies), elapsed, statistics.median(ordered), p95)


def run_load(
    arguments: argparse.Namespace,
    endpoint: str,
    token: str,
    name: str,
    seconds: float,
    work: Path,
) -> Load:
    if arguments.client == "wrk":
        return load_with_wrk(endpoint, token, name, arguments.clients, seconds, work)
    return asyncio.run(_load_with_httpx(endpoint, token, name, arguments.clients, seconds))


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """Return the user and system CPU time that each process has used, in seconds.

    A process that has exited is left out.
    """
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        # The command name is in brackets and may contain spaces, so split after it.
        # utime and stime are fields 14 and 15 of the whole line (proc(5)).
        fields = stat.rsplit(")", 1)[1].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks_per_second
    return seconds


def cpu_seconds_since(before: dict[int, float], after: dict[int, float]) -> float:
    """Return the CPU seconds that the processes in ``after`` used since ``before``."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def backend_pids(database: str) -> list[int]:
    """Return the process ids of PostgreSQL's backends connected to the database."""
    with psycopg.connect(SERVER, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return [int(row[0]) for row in rows]


def measured_load(
    arguments: argparse.Namespace,
    endpoint: str,
    token: str,
    name: str,
    work: Path,
    server_pid: int,
    database: str,
) -> Load:
    """Run one timed load and add the CPU time of the server and of PostgreSQL to it.

    PostgreSQL runs on this machine, so its backends' CPU time is read from /proc like
    the server's. A backend that starts during the load counts with all its CPU time,
    and one that exits during it is left out, so that it cannot subtract its earlier time.
    """
    server_before = cpu_seconds([server_pid])
    database_before = cpu_seconds(backend_pids(database))
    load = run_load(arguments, endpoint, token, name, arguments.seconds, work)
    server_after = cpu_seconds([server_pid])
    database_after = cpu_seconds(backend_pids(database))
    return replace(
        load,
        server_cpu=cpu_seconds_since(server_before, server_after),
        database_cpu=cpu_seconds_since(database_before, database_after),
    )


def describe(load: Load, baseline: Load | None) -> str:
    ratio = f", {load.rate / baseline.rate:.2f} of __typename" if baseline else ""
    server_ms = load.cpu_per_request(load.server_cpu) * 1000
    database_ms = load.cpu_per_request(load.database_cpu) * 1000
    return (
        f"  {load.query:11} {load.rate:8,.0f} requests/s{ratio}, "
        f"p50 {load.p50 * 1000:.1f} ms, p95 {load.p95 * 1000:.1f} ms; CPU per request: "
        f"server {server_ms:.2f} ms, PostgreSQL {database_ms:.2f} ms"
    )


def profile_server(
    arguments: argparse.Namespace,
    server: subprocess.Popen[bytes],
    endpoint: str,
    token: str,
    work: Path,
) -> None:
    output = Path(arguments.profile_output)
    recorder = subprocess.Popen(
        [
            arguments.py_spy,
            "record",
            "--nonblocking",
            "--gil",
            "--format",
            "raw",
            "--output",
            str(output),
            "--pid",
            str(server.pid),
            "--duration",
            f"{arguments.seconds:g}",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(1)  # let py-spy attach before the load starts
    load = run_load(arguments, endpoint, token, "page", arguments.seconds, work)
    recorder.wait(timeout=arguments.seconds + 60)
    print(
        f"profiled page load: {load.rate:,.0f} requests/s while py-spy sampled the server;"
        f" raw profile in {output}"
    )
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("profile_top.py")),
            str(output),
            "--top",
            "60",
        ],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=2000, help="complaints to lodge")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    # wrk takes whole seconds only.
    parser.add_argument("--seconds", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed seconds per query")
    parser.add_argument("--rounds", type=int, default=2, help="times to measure both queries")
    parser.add_argument("--client", choices=["wrk", "httpx"], default="wrk", help="load tool")
    parser.add_argument(
        "--sketch",
        action="store_true",
        help="also measure a server run through bench/serve_cached_validation.py",
    )
    parser.add_argument("--py-spy", help="py-spy executable; profiles one more page load")
    parser.add_argument(
        "--profile-output",
        default=str(Path(tempfile.gettempdir()) / "complaints_page-profile.txt"),
        help="where py-spy writes the raw profile (default: %(default)s)",
    )
    arguments = parser.parse_args()
    if arguments.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not installed; install Debian's wrk or pass --client httpx")

    name = f"cms_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    work = Path(tempfile.mkdtemp())
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    try:
        url = SERVER.rsplit("/", 1)[0] + "/" + name
        settings = load_settings(_env_file=None, database_url=url, data_dir=work, jwt_secret=SECRET)
        container = build_container(settings)
        started = time.perf_counter()
        seed(container, arguments.complaints, threads=8)
        seconds = time.perf_counter() - started
        print(f"lodged {arguments.complaints:,} complaints in {seconds:.1f} s")
        tokens = TokenService(
            settings.signing_secret(), issuer=settings.jwt_issuer, units=container.units
        )
        token = tokens.issue(subject="cell-1", role=Role.COMPLAINT_CELL, unit_id="pb")
        container.close()

        # Both servers run throughout, but only one is under load at a time.
        for label, sketch in (("as configured", False), ("sketch", True)):
            if sketch and not arguments.sketch:
                continue
            port = free_port()
            server = start_server(url, port, work, sketch)
            endpoint = f"http://{HOST}:{port}/graphql"
            servers[label] = (server, endpoint)
            check_queries(endpoint, token, page_size=min(50, arguments.complaints))
            for query in QUERIES:
                run_load(arguments, endpoint, token, query, arguments.warmup, work)

        print(
            f"{arguments.clients} clients ({arguments.client}), {arguments.seconds:g} s each; "
            f"load average before: {Path('/proc/loadavg').read_text().split()[0]}"
        )
        ratios: dict[str, list[float]] = {label: [] for label in servers}
        pages: dict[str, list[float]] = {label: [] for label in servers}
        for round_number in range(1, arguments.rounds + 1):
            for label, (server, endpoint) in servers.items():
                print(f"round {round_number}, server {label}:")
                baseline = measured_load(
                    arguments, endpoint, token, "__typename", work, server.pid, name
                )
                page = measured_load(arguments, endpoint, token, "page", work, server.pid, name)
                print(describe(baseline, None))
                print(describe(page, baseline))
                ratios[label].append(page.rate / baseline.rate)
                pages[label].append(page.rate)
        for label in servers:
            print(
                f"server {label}: page / __typename, median of {arguments.rounds}:"
                f" {statistics.median(ratios[label]):.2f}"
            )
        if arguments.sketch:
            speedups = [
                sketch / configured
                for sketch, configured in zip(pages["sketch"], pages["as configured"], strict=True)
            ]
            print(f"page rate, sketch / as configured, median: {statistics.median(speedups):.2f}")

        if arguments.py_spy:
            server, endpoint = servers["as configured"]
            profile_server(arguments, server, endpoint, token, work)
    finally:
        for server, _endpoint in servers.values():
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
