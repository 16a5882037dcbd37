"""``pyconvex dev`` sets CONVEX_CLOUD_URL and CONVEX_SITE_URL for functions, as Convex does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.devproc import CLI, DevProcess


def test_functions_see_the_dev_deployment_and_site_urls(tmp_path: Path) -> None:
    subprocess.run([*CLI, "init", str(tmp_path / "app")], check=True, capture_output=True)
    project = tmp_path / "app"
    (project / "convex" / "urls.py").write_text(
        "import os\n\nfrom pyconvex import query\n\n\n@query\nasync def get(ctx):\n"
        "    return [os.environ.get('CONVEX_CLOUD_URL'), os.environ.get('CONVEX_SITE_URL')]\n"
    )
    dev = DevProcess(project)
    try:
        site = dev.expect("HTTP actions:").split("HTTP actions:")[1].strip()
        dev.expect("Watching")
        result = dev.cli("run", "urls:get")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [dev.url, site]
        assert site.startswith("http://127.0.0.1:") and site != dev.url
    finally:
        dev.stop()
