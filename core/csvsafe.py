"""Text typed by people, made safe in a file a spreadsheet opens (CSV and formula injection).

The one rule, used by every CSV the portal writes (the regulator's exports, the dealer
dashboard, a data subject's copy): a cell that starts like a formula (``= + - @``, a tab or a
carriage return) gets a leading ``'`` so the spreadsheet shows it as text instead of running
it, and line breaks become spaces (one record, one line). ``defuse`` is the Python path;
``defuse_sql`` writes the same rule as a PostgreSQL expression for exports computed in the
database (``reports.expressions.Defused``). A test holds the two to the same result over the
same hostile cells.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_BREAKS = ("\r", "\n")


def defuse(value):
    """``value`` safe in a CSV cell; anything but text is returned as it is."""
    if not isinstance(value, str):
        return value
    clean = value
    for line_break in LINE_BREAKS:
        clean = clean.replace(line_break, " ")
    return "'" + clean if value[:1] in FORMULA_STARTS else clean


def _sql_literal(char: str) -> str:
    escapes = {"\t": "E'\\t'", "\r": "E'\\r'", "\n": "E'\\n'", "'": "''''"}
    return escapes.get(char, f"'{char}'")


def defuse_sql(expression: str) -> str:
    """``defuse`` over the SQL ``expression`` (PostgreSQL; the expression appears three times,
    so its parameters must be passed three times)."""
    starts = ", ".join(_sql_literal(char) for char in FORMULA_STARTS)
    breaks = "E'" + "".join({"\r": "\\r", "\n": "\\n"}[c] for c in LINE_BREAKS) + "'"
    spaces = "'" + " " * len(LINE_BREAKS) + "'"
    clean = f"translate({{v}}, {breaks}, {spaces})"
    return (f"CASE WHEN left({{v}}, 1) IN ({starts}) THEN '''' || {clean} ELSE {clean} END").format(
        v=expression
    )
