"""Drive a real ``pyconvex dev`` subprocess in a temporary project."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import free_port

CLI = [sys.executable, "-m", "pyconvex.cli.main"]


class DevProcess:
    def __init__(self, project: Path, *extra: str) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.proc = subprocess.Popen(
            [*CLI, "dev", "--port", str(self.port), "--site-port", str(free_port()), *extra],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"},
        )
        self._pumper = threading.Thread(target=self._pump, daemon=True)
        self._pumper.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)
            self.lines.put(line)

    def expect(self, needle: str, timeout: float = 20) -> str:
        """The next output line containing ``needle`` (fails with everything printed)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line with {needle!r}; output:\n{''.join(self.output)}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if needle in line:
                return line

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], cwd=self.project, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "COLUMNS": "400"},
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._pumper.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def save(path: Path, text: str) -> None:
    """Write a project file so that ``pyconvex dev`` sees the change."""
    path.write_text(text)
    os.utime(path)  # a fresh mtime even within the same second

