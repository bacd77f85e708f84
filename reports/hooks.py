"""What reports offers the layer above it, which registers when it is loaded (its
``AppConfig.ready``) so that reports never imports it (docs/architecture.md, "Hooks"):

- **outlet columns**: more columns of the ``outlets`` export (CSV, XLSX, PDF), computed per
  outlet for the export's filter and scope — the risk signals register theirs;
- **dashboard sections**: a section of the dashboard page below the figures, rendered from a
  template with the context its provider returns for the page's filter and scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class OutletColumns:
    columns: tuple[tuple[str, object], ...]  # (key, label) in the order of the values
    # values(flt, scope) -> {outlet id: tuple of values, one per column}
    values: Callable[..., dict[int, tuple]]
    pdf: tuple[tuple[str, int], ...] = ()  # (key, width in mm) of those a printed page shows


@dataclass(frozen=True)
class DashboardSection:
    template: str
    # context(flt, scope) -> the template's context, or None to leave the section out
    context: Callable[..., dict | None]


_outlet_columns: dict[str, OutletColumns] = {}
_dashboard_sections: dict[str, DashboardSection] = {}


def register_outlet_columns(name: str, columns: OutletColumns) -> None:
    """Add ``columns`` to the ``outlets`` export (registering ``name`` again replaces it)."""
    _outlet_columns[name] = columns


def outlet_columns() -> list[OutletColumns]:
    return list(_outlet_columns.values())


def register_dashboard_section(name: str, section: DashboardSection) -> None:
    """Show ``section`` on the dashboard (registering ``name`` again replaces it)."""
    _dashboard_sections[name] = section


def dashboard_sections(flt, scope) -> list[dict]:
    """The sections to render for ``flt`` and ``scope``: each its context with ``template``."""
    out = []
    for section in _dashboard_sections.values():
        context = section.context(flt, scope)
        if context is not None:
            out.append({**context, "template": section.template})
    return out
