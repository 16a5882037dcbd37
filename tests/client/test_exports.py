"""``pyconvex.client``'s curated surface: sorted, importable, and free of the server."""

from __future__ import annotations

import subprocess
import sys

import pyconvex
import pyconvex.client


def test_all_is_sorted_and_importable():
    names = list(pyconvex.client.__all__)
    assert names == sorted(names)
    assert set(names) == {
        "AsyncConvexClient", "AsyncSubscription", "ConvexClient", "ConvexConnectionError",
        "ConvexError", "ConvexExecutionError", "ConvexHttpClient", "Subscription",
    }
    for name in names:
        assert getattr(pyconvex.client, name).__module__ == "pyconvex.client"


def test_client_errors_mirror_convex_py():
    err = pyconvex.client.ConvexError("too long", {"max": 3.0})
    assert str(err) == "too long" and err.message == "too long" and err.data == {"max": 3.0}
    assert isinstance(err, pyconvex.ConvexError)  # one `except` for in-process and wire errors
    assert issubclass(pyconvex.client.ConvexConnectionError, pyconvex.client.ConvexExecutionError)


def test_importing_the_client_loads_no_engine_package():
    code = "import sys, pyconvex.client; print(sorted(m for m in sys.modules if m.startswith('pyconvex.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = {name.split(".")[1] for name in eval(out)}
    assert loaded <= {"client", "protocol", "values", "errors"}, loaded
