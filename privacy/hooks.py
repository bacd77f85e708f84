"""Hooks the privacy app offers to the apps above it (docs/architecture.md, "Hooks").

- **Export files holding a person.** ``register_export_file_eraser(eraser)``: on an erasure
  (and when a restore re-applies one) ``eraser(registration_ids, before)`` deletes the files it
  generated, before ``before``, that may hold those registrations' personal data, and returns
  their keys (for the erasure ledger). ``reports`` registers its export files in
  ``ReportsConfig.ready()``.
"""

from collections.abc import Callable
from datetime import datetime

ExportFileEraser = Callable[[list[int], datetime], list[str]]
_ERASERS: list[ExportFileEraser] = []


def register_export_file_eraser(eraser: ExportFileEraser) -> None:
    if eraser not in _ERASERS:
        _ERASERS.append(eraser)


def export_files_erase(registration_ids: list[int], before: datetime) -> list[str]:
    """Every registered eraser's deleted files, by key."""
    deleted: list[str] = []
    if registration_ids:
        for eraser in _ERASERS:
            deleted.extend(eraser(list(registration_ids), before))
    return deleted
