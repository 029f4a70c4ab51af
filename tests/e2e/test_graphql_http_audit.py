"""The GraphQL-over-HTTP server audits of the npm package graphql-http, run against the app.

``graphql_http_audit/audit.mjs`` runs ``serverAudits`` from graphql-http (version pinned in
``package-lock.json``) under Node.js and prints one result per audit. An audit with status
``error`` is a failed MUST of the specification and fails the test. Failed SHOULD and MAY
audits (``warn`` and ``notice``) are reported as pytest warnings.

The first run installs the pinned packages with ``npm ci``, which needs the npm registry.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningServer
from tests.e2e.node_projects import NPM_CI_TIMEOUT_SECONDS, find_tool, install_locked

AUDIT_DIR = Path(__file__).resolve().parent / "graphql_http_audit"
AUDIT_TIMEOUT_SECONDS = 120
AUDIT_STATUSES = {"ok", "notice", "warn", "error"}


class GraphQLHttpAuditWarning(UserWarning):
    """A SHOULD or MAY audit of graphql-http that the server failed."""


@pytest.fixture(scope="session")
def audit_script() -> Path:
    """Return the audit script, after ``npm ci`` if node_modules lacks the locked versions."""
    install_locked(AUDIT_DIR, ("graphql", "graphql-http"))
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
