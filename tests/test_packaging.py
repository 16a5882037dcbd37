"""Installing pyconvex outside this repository (README, "Installing it in your own
project"): the wheel carries the package, its data files, the licence and the
``pyconvex`` command, and works from wherever it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    # A copy of what a checkout holds, so the build writes nothing into this one.
    source = tmp_path / "checkout"
    shutil.copytree(ROOT / "pyconvex", source / "pyconvex",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=300, cwd=tmp_path,
    )
    (wheel,) = (tmp_path / "dist").glob("pyconvex-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "pyconvex = pyconvex.cli.main:main" in archive.read(entry_points).decode()
        # the dashboard page, built from dashboard/ by Vite (make dashboard), is in the wheel
        page = archive.read("pyconvex/server/dashboard_dist/index.html").decode()
    assert "pyconvex/py.typed" in names
    assert page == (ROOT / "pyconvex/server/dashboard_dist/index.html").read_text()
    assert '<script type="module">' in page and "<style>" in page  # one file, nothing to fetch
    assert not any(n.startswith("pyconvex/server/dashboard/") for n in names)  # the old page is gone
    assert any(n.endswith("licenses/LICENSE") for n in names)
    # Installed elsewhere (its dependencies are this environment's), it runs from there.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import pyconvex; print(pyconvex.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(target))
    helped = subprocess.run([sys.executable, "-m", "pyconvex.cli.main", "serve", "--help"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "postgresql://" in helped.stdout
    # the installed package serves the page it carries, with the CSP allowing its script
    served = subprocess.run(
        [sys.executable, "-c", "from pyconvex.server.dashboard_page import BUILT, _page; "
         "html, headers = _page(); print(BUILT); print(headers['Content-Security-Policy'])"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    built_at, csp = served.stdout.splitlines()
    assert built_at.startswith(str(target)) and "script-src 'sha256-" in csp
