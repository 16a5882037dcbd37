"""``pyconvex run`` sends an int64 where the function expects one (JSON numbers are
float64 on Convex's wire); other clients get an error that names the fix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli.devproc import CLI, DevProcess

COUNTS = '''
from pyconvex import mutation, query, v


@query
async def repeat(ctx, text: str, n: int) -> str:
    return text * n


@query(args={"n": v.int64(), "scale": v.float64(), "tags": v.array(v.union(v.int64(), v.string())),
             "nested": v.optional(v.object({"k": v.int64()})), "either": v.optional(v.union(v.int64(), v.float64()))})
async def describe(ctx, n, scale, tags, nested=None, either=None):
    return {"n": [type(n).__name__, n], "scale": type(scale).__name__,
            "tags": [type(t).__name__ for t in tags],
            "nested": type(nested["k"]).__name__ if nested else None,
            "either": type(either).__name__ if either is not None else None}


@mutation(name="bumpBy")
async def bump_by(ctx, by: int) -> int:
    return by + 1
'''


@pytest.fixture
def project(project: Path) -> Path:
    (project / "convex" / "counts.py").write_text(COUNTS)  # before dev starts (conftest)
    return project


def _run(dev: DevProcess, *args: str) -> object:
    result = dev.cli("run", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_sends_int64_where_an_argument_expects_one(dev: DevProcess) -> None:
    assert _run(dev, "counts:repeat", '{"text": "ab", "n": 3}') == "ababab"
    out = _run(dev, "counts:describe",
               '{"n": 3, "scale": 2, "tags": [1, "x"], "nested": {"k": 4}, "either": 5}')
    # int64 where the validator says int64 (also inside arrays, unions, objects) ...
    assert out == {"n": ["int", "3"], "scale": "float", "tags": ["int", "str"], "nested": "int",
                   # ... and a union that takes a float64 keeps the number a float64
                   "either": "float"}
    # a published name, and the --watch path (the Python client) too
    assert _run(dev, "counts:bumpBy", '{"by": 41}') == "42"  # int64 prints as a string, as Convex's clean JSON
    watch = subprocess.Popen([*CLI, "run", "counts:repeat", '{"text": "w", "n": 2}', "--watch"],
                             cwd=dev.project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None
        assert json.loads(watch.stdout.readline()) == "ww"
    finally:
        watch.terminate()
        watch.wait(10)
        for stream in (watch.stdout, watch.stderr):
            if stream is not None:
                stream.close()


def test_a_non_integral_number_is_still_refused(dev: DevProcess) -> None:
    result = dev.cli("run", "counts:repeat", '{"text": "ab", "n": 2.5}')
    assert result.returncode == 1 and "args.n: expected int64, got 2.5" in result.stderr


def test_a_float64_only_client_is_told_the_fix(dev: DevProcess) -> None:
    # what a JavaScript client sends for {n: 3}: a float64; the wire stays strict
    body = httpx.post(f"{dev.url}/api/query",
                      json={"path": "counts:repeat", "args": {"text": "ab", "n": 3}}).json()
    assert body["status"] == "error"
    assert "args.n: expected int64, got 3.0" in body["errorMessage"]
    assert "pass 3n (BigInt) from JavaScript, or declare the argument float" in body["errorMessage"]


def test_the_function_spec_lists_validators_under_published_names(dev: DevProcess) -> None:
    key = json.loads((dev.project / ".pyconvex" / "deployment.json").read_text())["adminKey"]
    spec = httpx.get(f"{dev.url}/api/pyconvex/functions",
                     headers={"Authorization": f"Convex {key}"}).json()["functions"]
    by_id = {f["identifier"]: f for f in spec}
    assert by_id["counts:bumpBy"]["functionType"] == "Mutation"
    assert by_id["counts:bumpBy"]["visibility"] == {"kind": "public"}
    assert by_id["counts:repeat"]["args"]["value"]["n"]["fieldType"] == {"type": "bigint"}
    assert "counts:bump_by" not in by_id
    refused = httpx.get(f"{dev.url}/api/pyconvex/functions")
    assert refused.status_code == 401
