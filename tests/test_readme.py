"""The README's five steps, run as written (commands taken from README.md itself)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

from tests.cli.devproc import CLI, DevProcess

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Your first function in five steps"):]
    section = section[: section.index("\n## ", 4)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines()
            if line.strip()]


def test_the_five_steps(tmp_path: Path) -> None:
    commands = _commands()
    assert commands == [
        "pyconvex init myapp",
        "cd myapp && pyconvex dev",
        """pyconvex run messages:send '{"author": "ann", "body": "hi"}'""",
        "pyconvex run messages:list --watch",
    ], "README changed: update this test to run its new commands"
    init = shlex.split(commands[0])
    subprocess.run([*CLI, *init[1:]], cwd=tmp_path, check=True, capture_output=True)
    project = tmp_path / "myapp"
    dev = DevProcess(project)  # step 2 (with a free port instead of 3210)
    try:
        dev.expect("Watching")
        send = shlex.split(commands[2])
        assert dev.cli(*send[1:]).returncode == 0
        watch = subprocess.Popen([*CLI, *shlex.split(commands[3])[1:]], cwd=project,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert watch.stdout is not None
            assert [m["body"] for m in json.loads(watch.stdout.readline())] == ["hi"]
            # step 5: edit and save; the live query shows the new code's result
            messages = project / "convex" / "messages.py"
            messages.write_text(messages.read_text().replace(
                "return list_reversed(messages)",
                "return [{**m, 'body': m['body'] + '!'} for m in list_reversed(messages)]",
            ))
            assert [m["body"] for m in json.loads(watch.stdout.readline())] == ["hi!"]
        finally:
            watch.kill()
            watch.wait()
            assert watch.stdout is not None and watch.stderr is not None
            watch.stdout.close()
            watch.stderr.close()
    finally:
        dev.stop()
    assert (project / "convex" / "_generated" / "api.py").exists()



def test_make_run_starts_the_chat_example(tmp_path: Path) -> None:
    """`make run` (the README's first command) serves the chat page and the API."""
    import os
    import signal

    import httpx

    from tests.conftest import free_port

    port = free_port()
    root = README.parent
    proc = subprocess.Popen(["make", "-s", "run", f"PORT={port}", f"SITE_PORT={free_port()}"], cwd=root, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Web page:" in line:
                break
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines), "".join(lines)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "pyconvex chat" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/version", timeout=10).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_the_pytest_example_runs_as_written(tmp_path: Path) -> None:
    """"Writing functions": the schema, the functions and the test, in a fresh project
    with the pytest configuration the README gives, pass under pytest."""
    import os
    import sys

    text = README.read_text()
    section = text[text.index("## Writing functions"):]
    section = section[: section.index("\n## ", 4)]
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        name = block.splitlines()[0].removeprefix("# ").split()[0]
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(block)
    (config,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    (tmp_path / "pyproject.toml").write_text(config)
    assert sorted(p.name for p in tmp_path.rglob("*.py")) == [
        "messages.py", "schema.py", "test_messages.py"]
    env = {k: val for k, val in os.environ.items() if not k.startswith("PYTEST")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_messages.py"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_every_document_is_listed_in_the_readme() -> None:
    text = README.read_text()
    section = text[text.index("## Documentation"):]
    docs = README.parent / "docs"
    expected = {f"docs/{p.name}" for p in docs.glob("*.md")} | {"docs/decisions/"}
    listed = set(re.findall(r"^- `(docs/[^`]+)`", section, re.M))
    assert expected - listed == set(), "documents the README does not list"
    assert listed - expected == set(), "the README lists documents that do not exist"
