"""``pyconvex run --watch`` keeps watching through a failing query: the error is printed,
and the next good result follows once the code is fixed."""

from __future__ import annotations

import queue
import subprocess
import threading
from pathlib import Path

from tests.cli.devproc import CLI, DevProcess, save


def test_watch_survives_an_error_and_prints_the_fixed_result(dev: DevProcess, project: Path) -> None:
    watch = subprocess.Popen([*CLI, "run", "messages:list", "--watch"], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    messages = project / "convex" / "messages.py"
    good = messages.read_text()
    try:
        assert lines.get(timeout=30).strip() == "[]"
        assert "return list_reversed(messages)" in good
        save(messages, good.replace(
            "return list_reversed(messages)", "raise RuntimeError('broken on purpose')"))
        error = lines.get(timeout=30)  # clients see "Server Error" and a request id
        assert "Server Error" in error and "still watching" in error
        assert watch.poll() is None  # the watch goes on
        save(messages, good)
        assert lines.get(timeout=30).strip() == "[]"
        assert dev.cli("run", "messages:send", '{"author": "ann", "body": "back"}').returncode == 0
        assert '"body": "back"' in lines.get(timeout=30)
    finally:
        watch.kill()
        watch.wait()
        if watch.stdout is not None:
            watch.stdout.close()
