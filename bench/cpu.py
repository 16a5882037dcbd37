"""CPU time of a process and of its children, from /proc (the benchmarks' one helper
for it: the server's SQLite writer is a child process, and its CPU counts too)."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) of process ``pid`` and of its live children."""
    tick = os.sysconf("SC_CLK_TCK")
    own = children = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(entry.name) == pid:
            own += seconds
        elif int(fields[1]) == pid:
            children += seconds
    return own, children
