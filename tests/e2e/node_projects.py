"""Node.js projects the end-to-end tests run: found on PATH, installed with ``npm ci``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

NPM_CI_TIMEOUT_SECONDS = 240


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH: the end-to-end tests need Node.js 20 or later with npm",
            pytrace=False,
        )
    return path


def installed_version(project: Path, package: str) -> str | None:
    manifest = project / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return None
    version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return version


def locked_version(project: Path, package: str) -> str:
    lock = json.loads((project / "package-lock.json").read_text(encoding="utf-8"))
    version: str = lock["packages"][f"node_modules/{package}"]["version"]
    return version


def install_locked(project: Path, packages: tuple[str, ...]) -> None:
    """Run ``npm ci`` in ``project`` unless node_modules already has the locked versions."""
    if all(installed_version(project, name) == locked_version(project, name) for name in packages):
        return
    completed = subprocess.run(  # fixed arguments, npm found on PATH
        [find_tool("npm"), "ci", "--no-audit", "--no-fund"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=NPM_CI_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(
            f"npm ci failed in {project} with exit status {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}",
            pytrace=False,
        )


__all__ = ["NPM_CI_TIMEOUT_SECONDS", "find_tool", "install_locked"]
