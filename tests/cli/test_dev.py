"""``pyconvex dev`` driven as a user would: edit, break, watch, and the CLI around it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.cli.devproc import CLI, DevProcess, save


def test_edit_a_function_and_the_next_call_sees_the_new_code(dev: DevProcess, project: Path) -> None:
    assert dev.cli("run", "messages:send", '{"author": "ann", "body": "hi"}').returncode == 0
    messages = project / "convex" / "messages.py"
    save(messages, messages.read_text() + (
        "\n\n@query\nasync def shout(ctx):\n"
        "    return [m['body'].upper() for m in await ctx.db.query('messages').collect()]\n"
    ))
    dev.expect("added messages:shout")
    result = dev.cli("run", "messages:shout")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["HI"]
    # generated references follow the code
    assert "shout = typed_reference" in (project / "convex" / "_generated" / "api.py").read_text()


def test_syntax_error_is_located_and_old_code_keeps_serving(dev: DevProcess, project: Path) -> None:
    messages = project / "convex" / "messages.py"
    save(messages, messages.read_text() + "\ndef broken(:\n")
    line = dev.expect("SyntaxError")
    assert "convex/messages.py:" in line
    dev.expect("previous code keeps serving")
    result = dev.cli("run", "messages:list")
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_schema_violating_data_is_refused_naming_the_document(dev: DevProcess, project: Path) -> None:
    assert dev.cli("run", "messages:send", '{"author": "ann", "body": "text"}').returncode == 0
    doc_id = json.loads(dev.cli("run", "messages:list").stdout)[0]["_id"]
    schema = project / "convex" / "schema.py"
    save(schema, schema.read_text().replace('"body": v.string()', '"body": v.int64()'))
    line = dev.expect("Schema validation failed")
    assert doc_id in line and "'messages'" in line
    # old code and old schema keep serving: a string body is still accepted
    sent = dev.cli("run", "messages:send", '{"author": "bob", "body": "still text"}')
    assert sent.returncode == 0, sent.stderr
    assert len(json.loads(dev.cli("run", "messages:list").stdout)) == 2


def test_run_watch_prints_a_new_line_after_a_mutation(dev: DevProcess, project: Path) -> None:
    watch = subprocess.Popen([*CLI, "run", "messages:list", "--watch"], cwd=project,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        assert json.loads(watch.stdout.readline()) == []
        assert dev.cli("run", "messages:send", '{"author": "ann", "body": "live"}').returncode == 0
        update = json.loads(watch.stdout.readline())
        assert [m["body"] for m in update] == ["live"]
    finally:
        watch.kill()
        watch.wait()
        assert watch.stdout is not None and watch.stderr is not None
        watch.stdout.close()
        watch.stderr.close()


def test_env_vars_reach_functions_through_os_environ(dev: DevProcess, project: Path) -> None:
    messages = project / "convex" / "messages.py"
    save(messages, messages.read_text() + (
        "\n\n@query\nasync def greeting(ctx) -> str | None:\n"
        "    import os\n    return os.environ.get('GREETING')\n"
    ))
    dev.expect("added messages:greeting")
    assert json.loads(dev.cli("run", "messages:greeting").stdout) is None
    assert dev.cli("env", "set", "GREETING", "hello").returncode == 0
    assert json.loads(dev.cli("run", "messages:greeting").stdout) == "hello"
    assert dev.cli("env", "get", "GREETING").stdout.strip() == "hello"
    assert "GREETING=hello" in dev.cli("env", "list").stdout
    assert dev.cli("env", "remove", "GREETING").returncode == 0
    assert json.loads(dev.cli("run", "messages:greeting").stdout) is None
    bad = dev.cli("env", "set", "1BAD", "x")
    assert bad.returncode == 1 and "Invalid environment variable name '1BAD'" in bad.stderr


def test_data_and_logs(dev: DevProcess, project: Path) -> None:
    messages = project / "convex" / "messages.py"
    save(messages, messages.read_text() + (
        "\n\n@mutation\nasync def noisy(ctx) -> None:\n    print('made some noise', 42)\n"
    ))
    dev.expect("added messages:noisy")
    logs = subprocess.Popen([*CLI, "logs"], cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)  # let the follower take its starting point
        assert dev.cli("run", "messages:noisy").returncode == 0
        assert logs.stdout is not None
        line = logs.stdout.readline()
        assert "messages:noisy" in line and "[LOG] 'made some noise' 42" in line
    finally:
        logs.kill()
        logs.wait()
        if logs.stdout:
            logs.stdout.close()
    dev.expect("made some noise")  # the dev console tails logs too
    assert dev.cli("run", "messages:send", '{"author": "ann", "body": "row"}').returncode == 0
    assert dev.cli("data").stdout.split() == ["messages"]
    rows = [json.loads(x) for x in dev.cli("data", "messages", "--json").stdout.splitlines()]
    assert [r["body"] for r in rows] == ["row"]
    missing = dev.cli("data", "nope")
    assert missing.returncode == 1 and "no table 'nope'" in missing.stderr


def test_a_failure_shows_its_traceback_in_dev_and_in_logs(dev: DevProcess, project: Path) -> None:
    messages = project / "convex" / "messages.py"
    save(messages, messages.read_text() + (
        "\n\n@mutation\nasync def broken(ctx) -> int:\n    lookup = {'a': 1}\n"
        "    return lookup['b']\n"
    ))
    dev.expect("added messages:broken")
    logs = subprocess.Popen([*CLI, "logs"], cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.0)  # let the follower take its starting point
        failed = dev.cli("run", "messages:broken")
        assert failed.returncode == 1
        request_id = failed.stderr.split("Request ID: ")[1].split("]")[0]
        assert logs.stdout is not None
        seen = [logs.stdout.readline() for _ in range(6)]
        assert f"messages:broken KeyError: 'b' [Request ID: {request_id}]" in seen[0]
        assert any('messages.py", line' in line and "in broken" in line for line in seen)
        assert any("return lookup['b']" in line for line in seen)
    finally:
        logs.kill()
        logs.wait()
        if logs.stdout:
            logs.stdout.close()
    dev.expect(f"[Request ID: {request_id}]")  # the dev console prints it, then the traceback
    dev.expect("in broken")


def test_start_up_errors_are_clear(project: Path, tmp_path: Path) -> None:
    first = DevProcess(project)
    try:
        first.expect("Watching")
        clash = subprocess.run([*CLI, "dev", "--port", str(first.port)], cwd=project,
                               capture_output=True, text=True, timeout=30)
        assert clash.returncode == 1 and f"Port {first.port}" in clash.stderr
    finally:
        first.stop()
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = subprocess.run([*CLI, "dev"], cwd=empty, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1 and "convex does not exist" in missing.stderr
    no_deployment = subprocess.run([*CLI, "data"], cwd=empty, capture_output=True, text=True, timeout=30)
    assert no_deployment.returncode == 1 and "run `pyconvex dev`" in no_deployment.stderr


def test_export_then_import_into_a_fresh_deployment(dev: DevProcess, project: Path, tmp_path: Path) -> None:
    for i in range(5):
        assert dev.cli("run", "messages:send", json.dumps({"author": "ann", "body": f"m{i}"})).returncode == 0
    snapshot = tmp_path / "snapshot.zip"
    exported = dev.cli("export", "--path", str(snapshot))
    assert exported.returncode == 0, exported.stderr
    assert dev.cli("export", "--path", str(snapshot)).returncode == 1  # never overwrites
    original = [json.loads(x) for x in dev.cli("data", "messages", "--json").stdout.splitlines()]
    fresh_project = tmp_path / "fresh"
    fresh_project.mkdir()
    import shutil

    shutil.copytree(project / "convex", fresh_project / "convex",
                    ignore=shutil.ignore_patterns("_generated", "__pycache__"))
    fresh = DevProcess(fresh_project)
    try:
        fresh.expect("Watching")
        imported = fresh.cli("import", str(snapshot))
        assert imported.returncode == 0, imported.stderr
        assert "messages: 5 documents" in imported.stdout
        copied = [json.loads(x) for x in fresh.cli("data", "messages", "--json").stdout.splitlines()]
        assert copied == original  # every document, _id and _creationTime included
        again = fresh.cli("import", str(snapshot))
        assert again.returncode == 1 and "already has documents" in again.stderr
        assert fresh.cli("import", str(snapshot), "--replace").returncode == 0
    finally:
        fresh.stop()


def test_data_at_a_past_time(dev: DevProcess) -> None:
    assert dev.cli("run", "messages:send", '{"author": "ann", "body": "first"}').returncode == 0
    time.sleep(0.05)
    between = time.time() * 1000
    time.sleep(0.05)
    assert dev.cli("run", "messages:send", '{"author": "ann", "body": "second"}').returncode == 0
    now = [json.loads(x)["body"] for x in dev.cli("data", "messages", "--json").stdout.splitlines()]
    past = dev.cli("data", "messages", "--json", "--at", str(between))
    assert past.returncode == 0, past.stderr
    assert now == ["second", "first"]
    assert [json.loads(x)["body"] for x in past.stdout.splitlines()] == ["first"]
    iso = dev.cli("data", "messages", "--json", "--at", "2000-01-01T00:00:00Z")
    assert iso.returncode == 0 and iso.stdout.strip() == ""  # before anything existed
