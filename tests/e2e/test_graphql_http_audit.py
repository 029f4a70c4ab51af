"""The GraphQL-over-HTTP server audits of the npm package graphql-http, run against the app.

``graphql_http_audit/audit.mjs`` runs ``serverAudits`` from graphql-http (version pinned in
``package-lock.json``) under Node.js and prints one result per audit. An audit with status
``error`` is a failed MUST of the specification and fails the test. Failed SHOULD and MAY
audits (``warn`` and ``notice``) are reported as pytest warnings.

The first run installs the pinned packages with ``npm ci``, which needs the npm registry.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningServer

AUDIT_DIR = Path(__file__).resolve().parent / "graphql_http_audit"
NPM_CI_TIMEOUT_SECONDS = 240
AUDIT_TIMEOUT_SECONDS = 120
AUDIT_STATUSES = {"ok", "notice", "warn", "error"}


class GraphQLHttpAuditWarning(UserWarning):
    """A SHOULD or MAY audit of graphql-http that the server failed."""


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH: the graphql-http audits need Node.js 20 or later with npm",
            pytrace=False,
        )
    return path


def installed_version(package: str) -> str | None:
    manifest = AUDIT_DIR / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return version


def locked_version(package: str) -> str:
    lock = json.loads((AUDIT_DIR / "package-lock.json").read_text(encoding="utf-8"))
    version: str = lock["packages"][f"node_modules/{package}"]["version"]
    return version


@pytest.fixture(scope="session")
def audit_script() -> Path:
    """Return the audit script, after ``npm ci`` if node_modules lacks the locked versions."""
    packages = ("graphql", "graphql-http")
    if any(installed_version(name) != locked_version(name) for name in packages):
        npm = find_tool("npm")
        completed = subprocess.run(  # fixed arguments, npm found on PATH
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AUDIT_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            pytest.fail(
                f"npm ci failed in {AUDIT_DIR} with exit status {completed.returncode}:\n"
                f"{completed.stdout}\n{completed.stderr}",
                pytrace=False,
            )
    return AUDIT_DIR / "audit.mjs"


def describe(result: dict[str, Any]) -> str:
    line = f"{result['id']} {result['name']}: {result.get('reason')}"
    response = result.get("response")
    if response:
        line += f" (response {response['status']}, {response['contentType']}: {response['body']!r})"
    return line


@pytest.mark.timeout(NPM_CI_TIMEOUT_SECONDS + AUDIT_TIMEOUT_SECONDS)
def test_graphql_http_audits(server: RunningServer, audit_script: Path) -> None:
    node = find_tool("node")

    completed = subprocess.run(  # our script and our server's URL
        [node, str(audit_script), server.graphql_url],
        cwd=AUDIT_DIR,
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT_SECONDS,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    assert results, "graphql-http returned no audits"
    assert {result["status"] for result in results} <= AUDIT_STATUSES
    for result in results:
        if result["status"] in ("warn", "notice"):
            warnings.warn(describe(result), GraphQLHttpAuditWarning, stacklevel=1)
    errors = [describe(result) for result in results if result["status"] == "error"]
    assert errors == [], "failed MUST audits:\n" + "\n".join(errors)
