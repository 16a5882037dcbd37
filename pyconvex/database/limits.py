"""Convex's per-transaction limits, as one record so tests and system jobs can vary them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    max_documents_read: int = 32_000
    max_bytes_read: int = 16 * 1024 * 1024
    max_index_ranges: int = 4_096
    max_documents_written: int = 16_000
    max_bytes_written: int = 16 * 1024 * 1024


DEFAULT_LIMITS = Limits()
