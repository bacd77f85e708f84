"""A registration's history told as a story: days, and one sentence per event.

The audit trail records every look and change as a row (``core.audit``); a reader wants to know
what happened. ``history_story`` groups the rows by day (newest first), says each in a sentence
in the reader's language ("Rina Wulandari (Outlet staff): Registration created", "The
reconciliation found: Name differs"), and folds the looks — photo views and record views — into
one line per viewer per day ("… viewed the photos 4 times"). Labels come from the vocabularies
(``core.vocabulary``); no code is printed. The raw rows stay available to an operator admin.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core import vocabulary

# Audit actors that are not people: the command or task that acted, by the name it records.
SYSTEM_ACTORS = {
    "system": lambda: _("The portal"),  # what the portal does by itself (a run flagging a number)
    "compliance": lambda: _("The compliance workflow"),
    "population-registry": lambda: _("The population registry"),
    "face-photo-purge": lambda: _("The face-photo clean-up"),
    "photo-orphan-sweep": lambda: _("The photo clean-up"),
    "receipt-link": lambda: _("The buyer, through the receipt link"),
    "seed_demo": lambda: _("The demo data loader"),
    "holder": lambda: _("The NIK's holder, through the holder's page"),
    "holders": lambda: _("The portal, on the NIK holder's report"),
    "retention-purge": lambda: _("The retention clean-up"),
    "restore": lambda: _("The portal, restoring a backup"),
}
# Looks folded into one line per viewer per day, with the sentence for n looks.
FOLDED = {
    "registration.photo_view": lambda n: ngettext(
        "viewed the photos once", "viewed the photos %(n)d times", n
    ),
    "registration.view": lambda n: ngettext(
        "looked at the record once", "looked at the record %(n)d times", n
    ),
    "clarification.evidence_view": lambda n: ngettext(
        "viewed the evidence photo once", "viewed the evidence photo %(n)d times", n
    ),
}


@dataclass
class Line:
    at: datetime
    who: str
    text: str


@dataclass
class Day:
    day: date
    lines: list[Line] = field(default_factory=list)


def who(event) -> str:
    """The actor as a reader names them: full name and role, or what the system actor is."""
    user = event.actor
    if user is not None:
        name = user.get_full_name() or user.get_username()
        role = user.get_role_display() if getattr(user, "role", "") else ""
        return f"{name} ({role})" if role else name
    label = event.actor_label or ""
    if label in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[label]()
    return label if label and "_" not in label else _("The portal")


def _day(value) -> str:
    try:
        return formats.date_format(datetime.fromisoformat(value), "j M Y")
    except (TypeError, ValueError):
        return ""


def what(event) -> str:
    """The event as a sentence without its actor: the action's label and, where the row holds
    them, the facts a reader needs (findings, decisions, deadlines) — in words."""
    text = vocabulary.label("audit_action", event.action)
    after = event.after if isinstance(event.after, dict) else {}
    facts = []
    kinds = after.get("kinds") or ([after["kind"]] if isinstance(after.get("kind"), str) else [])
    if kinds and all(vocabulary.is_known("discrepancy_kind", k) for k in kinds):
        facts.append(vocabulary.labels("discrepancy_kind", kinds))
    if after.get("reconciliation_run"):
        facts.append(
            _("found by reconciliation run %(run)s") % {"run": after["reconciliation_run"]}
        )
    decision = after.get("decision")
    if isinstance(decision, str) and vocabulary.is_known("review_decision", decision):
        facts.append(vocabulary.label("review_decision", decision))
    if after.get("due_at") and (due := _day(after["due_at"])):
        facts.append(_("answer due %(day)s") % {"day": due})
    source = after.get("source")
    if isinstance(source, str) and vocabulary.is_known("registration_source", source):
        facts.append(vocabulary.label("registration_source", source))
    return f"{text}: {'; '.join(facts)}" if facts else text


def history_story(events) -> list[Day]:
    """``events`` (newest first) as days of sentences; the looks of a viewer on one day folded
    into one line placed at their latest look."""
    days: OrderedDict[date, Day] = OrderedDict()
    folded: dict[tuple[date, str, str], tuple[Line, int]] = {}
    for event in events:
        at = timezone.localtime(event.created_at)
        day = days.setdefault(at.date(), Day(at.date()))
        actor = who(event)
        if event.action in FOLDED:
            key = (at.date(), actor, event.action)
            if key in folded:
                line, count = folded[key]
                folded[key] = (line, count + 1)
                continue
            line = Line(at, actor, "")
            folded[key] = (line, 1)
            day.lines.append(line)
            continue
        day.lines.append(Line(at, actor, what(event)))
    for (_day_key, _actor, action), (line, count) in folded.items():
        line.text = FOLDED[action](count) % {"n": count}
    return list(days.values())
