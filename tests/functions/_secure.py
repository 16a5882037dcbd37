"""Shared by the secure-functions tests: the fixture app and its setup."""

from __future__ import annotations

from pathlib import Path

SECUREAPP = Path(__file__).resolve().parents[1] / "fixtures" / "secureapp" / "convex"
