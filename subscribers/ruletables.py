"""The rule-set tables of docs/rules.md and README.md, rendered from the rule sets themselves
(``manage.py render_rule_tables``): the documents follow the data, and a test holds the
committed documents to what the published rule sets render."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from .models import RegistrationPolicy

# Where each table goes: file (relative to the project), marker name, renderer.
BLOCK = re.compile(
    r"(<!-- (?P<name>[a-z-]+):begin[^>]*-->\n)(?P<body>.*?)(<!-- (?P=name):end -->)", re.DOTALL
)
_BOOLEAN_EXTRAS = (
    ("id_photo_required", "ID photo"),
    ("face_photo_required", "face photo of every buyer"),
    ("packs_sold_inactive", "packs sold inactive"),
    ("original_documents_required", "`original_documents_required`"),
    ("signed_statement_required", "`signed_statement_required`"),
    ("mass_registration_forbidden", "`mass_registration_forbidden`"),
    ("training_required", "training required"),
)


def _types(values) -> str:
    return ", ".join(values) or "—"


def _yes(value) -> str:
    return "yes" if value else "—"


def _number(value) -> str:
    return str(value) if value else "—"


def fields_table(policies) -> str:
    """docs/rules.md: the key fields of every published rule set."""
    lines = [
        "| code | in force from | citizen ID types | foreigner ID types | `citizen_proof` "
        "| `registry_check` | cap | `cap_exceptions` | `declared_purpose_above` "
        "| `staff_own_id_forbidden` | other |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for policy in policies:
        if policy.citizen_id_types or policy.foreigner_id_types:
            citizens, foreigners = (
                _types(policy.citizen_id_types),
                _types(policy.foreigner_id_types),
            )
        else:
            citizens, foreigners = (
                f"{_types(policy.accepted_id_types)} (any nationality; a KITAS or KITAP is a "
                "foreigner's by nature, so a citizen's is refused under every rule set)",
                "",
            )
        other = [label for name, label in _BOOLEAN_EXTRAS if getattr(policy, name)]
        if policy.minor_age_limit:
            other.append(f"`minor_age_limit` {policy.minor_age_limit}")
        lines.append(
            f"| `{policy.code}` | {policy.effective_from:%Y-%m-%d} | {citizens} | {foreigners} "
            f"| `{policy.citizen_proof}` | {_yes(policy.registry_check)} "
            f"| {_number(policy.max_numbers_per_id)} | `{policy.cap_exceptions}` "
            f"| {_number(policy.declared_purpose_above)} | {_yes(policy.staff_own_id_forbidden)} "
            f"| {', '.join(other)} |"
        )
    return "\n".join(lines) + "\n"


def readme_table(policies) -> str:
    """README.md: the rule sets in force from each date, with their basis and key rules."""
    lines = [
        "| in force from | rule set | legal basis | a citizen is identified by | cap per NIK "
        "| beyond the cap |",
        "|---|---|---|---|---|---|",
    ]
    for policy in policies:
        cap = policy.max_numbers_per_id
        lines.append(
            f"| {policy.effective_from:%Y-%m-%d} | {policy.code} — {policy.name} "
            f"| {policy.legal_basis or '—'} | {policy.get_citizen_proof_display()} "
            f"| {_number(cap)} | {policy.get_cap_exceptions_display() if cap else '—'} |"
        )
    return "\n".join(lines) + "\n"


TABLES = {
    ("docs/rules.md", "rule-set-fields"): fields_table,
    ("README.md", "rule-sets"): readme_table,
}


def published_policies():
    return list(RegistrationPolicy.objects.order_by("effective_from"))


def render(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` holding ``body``."""

    def replace(match):
        if match["name"] != name:
            return match.group(0)
        return match.group(1) + body + match.group(4)

    rendered, found = BLOCK.subn(replace, text)
    if not found or rendered.count(f"<!-- {name}:begin") != 1:
        raise ValueError(f"the block {name!r} is missing")
    return rendered


def rendered_documents(base: Path | None = None) -> dict[Path, tuple[str, str]]:
    """Each document's path with its current text and its text rendered from the data."""
    from django.utils import translation

    base = base or Path(settings.BASE_DIR)
    policies = published_policies()
    documents: dict[Path, tuple[str, str]] = {}
    with translation.override("en"):
        for (relative, name), renderer in TABLES.items():
            path = base / relative
            current = path.read_text(encoding="utf-8")
            rendered = documents[path][1] if path in documents else current
            documents[path] = (current, render(rendered, name, renderer(policies)))
    return documents
