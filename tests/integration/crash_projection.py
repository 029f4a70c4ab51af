"""Run the complaint projection and kill the process in the middle of a batch.

Usage: python -m tests.integration.crash_projection DATA_DIR DATABASE_URL|- KILL_AFTER BATCH
The process exits with status 86 from inside the batch transaction after applying
KILL_AFTER events of its first batch, as a crash would: nothing is committed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cms_graph.bootstrap import build_container
from cms_graph.projections.complaints import ComplaintViewProjector
from cms_graph.projections.runner import ProjectionRunner
from tests.conftest import make_settings

CRASH_STATUS = 86


def main() -> None:
    data_dir, database_url, kill_after, batch_size = sys.argv[1:5]
    settings = make_settings(Path(data_dir), None if database_url == "-" else database_url)
    container = build_container(settings)
    applied = 0

    def crash_midway(_notification_id: int) -> None:
        nonlocal applied
        applied += 1
        if applied == int(kill_after):
            os._exit(CRASH_STATUS)

    runner = ProjectionRunner(
        container.database,
        container.event_store,
        ComplaintViewProjector(container.units),
        batch_size=int(batch_size),
        after_event=crash_midway,
    )
    runner.catch_up()


if __name__ == "__main__":
    main()
