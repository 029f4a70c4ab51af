"""Progress bars of the command line that do not cut into log lines.

A bar opens at the first step of the work it measures and closes when it reaches its
total. Log lines written before the first step (such as "import started") therefore come
out above the bar, and those written after the last step (such as the import's summary)
below it, instead of between redraws of the bar. A line logged while the bar is open goes
through ``tqdm.write``, which clears the bar, writes the line and draws the bar again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Never

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


class ProgressBar:
    """A tqdm bar on stderr that opens at the first step and closes at ``total`` steps.

    Steps after the bar closed, such as events appended to the log during a rebuild,
    are not shown.
    """

    def __init__(self, total: int, *, unit: str, description: str | None = None) -> None:
        self.total = total
        self.unit = unit
        self.description = description
        self.done = 0
        self._bar: tqdm[Never] | None = None
        self._closed = False

    def advance(self, steps: int) -> None:
        if self._closed or steps <= 0:
            return
        bar = self._bar
        if bar is None:
            bar = tqdm(total=self.total, unit=self.unit, desc=self.description, file=sys.stderr)
            self._bar = bar
        bar.update(steps)
        self.done += steps
        if self.done >= self.total:
            self.close()

    def move_to(self, position: int) -> None:
        """Advance to ``position`` steps done. A position at or below the current one is ignored."""
        self.advance(position - self.done)

    def close(self) -> None:
        if self._bar is not None and not self._closed:
            self._bar.close()
        self._closed = True


@contextmanager
def progress_bar(total: int, *, unit: str, description: str | None = None) -> Iterator[ProgressBar]:
    """Yield a ProgressBar and route log lines through ``tqdm.write`` until the block ends."""
    bar = ProgressBar(total, unit=unit, description=description)
    with logging_redirect_tqdm():
        try:
            yield bar
        finally:
            bar.close()


__all__ = ["ProgressBar", "progress_bar"]
