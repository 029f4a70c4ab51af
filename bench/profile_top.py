"""Summarise a py-spy profile in raw (collapsed stack) format as the top functions.

py-spy writes one line per distinct stack, root first: ``frame;frame;… samples``, where a
frame reads ``function (file:line)``. This script folds the line numbers away and prints
the functions with the largest share of samples, inclusive of their callees and by their
own (self) samples. ``--within`` keeps only the stacks that pass through a function whose
frame contains the given text, and shares are then of those stacks.

    /tmp/pyspy-venv/bin/py-spy record --idle -f raw -o profile.txt -p PID -d 10
    .venv/bin/python bench/profile_top.py profile.txt [--within run_writers] [--top 25]
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

_LINE_NUMBER = re.compile(r":\d+\)$")


def frame_name(frame: str) -> str:
    """Return the frame without its line number, with the file path shortened."""
    frame = _LINE_NUMBER.sub(")", frame.strip())
    function, _, location = frame.partition(" (")
    for marker in ("site-packages/", "src/", "python3.11/"):
        if marker in location:
            location = location.split(marker, 1)[1]
            break
    return f"{function} ({location}" if location else function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="py-spy output written with -f raw")
    parser.add_argument("--within", help="keep only stacks with a frame containing this text")
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    arguments = parser.parse_args()

    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in arguments.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        if arguments.within and arguments.within not in stack:
            continue
        samples = int(count)
        frames = [frame_name(frame) for frame in stack.split(";")]
        total += samples
        for name in set(frames):
            inclusive[name] += samples
        own[frames[-1]] += samples

    if total == 0:
        raise SystemExit(f"no samples in {arguments.profile} match --within {arguments.within!r}")
    print(f"{total:,} samples")
    print("inclusive:")
    for name, samples in inclusive.most_common(arguments.top):
        print(f"  {samples / total * 100:5.1f}%  {name}")
    print("self:")
    for name, samples in own.most_common(arguments.top):
        print(f"  {samples / total * 100:5.1f}%  {name}")


if __name__ == "__main__":
    main()
