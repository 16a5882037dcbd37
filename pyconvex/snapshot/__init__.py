"""Snapshot export and import in Convex's snapshot ZIP format (see docs/snapshots.md)."""

from pyconvex.snapshot.export import ExportSummary, export_snapshot
from pyconvex.snapshot.format import from_export_json, to_export_json
from pyconvex.snapshot.importer import ImportSummary, import_snapshot
from pyconvex.snapshot.storage import SnapshotImportError

__all__ = [
    "ExportSummary",
    "ImportSummary",
    "SnapshotImportError",
    "export_snapshot",
    "from_export_json",
    "import_snapshot",
    "to_export_json",
]
