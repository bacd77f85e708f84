"""The reconciliation rules, as plain functions (no Django).

What counts as a discrepancy between a registration (the portal's side) and the operator's
record of the same MSISDN. The generic engine (``python``) applies these functions
directly; the set-based engine (``sql``) states the same rules in SQL, and the tests
hold both to the same ground truth.

- ``missing_in_operator``: registered here, no operator record for the MSISDN.
- ``id_number_mismatch``: both exist and the ID digests differ (the operator holding no ID
  counts as different).
- ``name_mismatch``: both exist and the names differ once case, spacing and punctuation are
  ignored (``idrules.normalize_name_for_comparison``) — nothing more.
- ``birth_date_mismatch``: both exist and the birth dates differ (a missing one differs).
- ``unregistered_activation``: active at the operator, sold through one of the portal's ROIDs,
  and no registration here.
- ``id_over_limit``: one ID digest holds more *active* operator numbers than the cap of the
  policy in force. The numbers beyond the cap, in activation order (then MSISDN), are the
  discrepancies: the first ``cap`` numbers were within the rules when they were sold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from identity.idrules import normalize_name_for_comparison

MISSING_IN_OPERATOR = "missing_in_operator"
ID_NUMBER_MISMATCH = "id_number_mismatch"
NAME_MISMATCH = "name_mismatch"
BIRTH_DATE_MISMATCH = "birth_date_mismatch"
UNREGISTERED_ACTIVATION = "unregistered_activation"
ID_OVER_LIMIT = "id_over_limit"

KINDS = (
    MISSING_IN_OPERATOR,
    ID_NUMBER_MISMATCH,
    NAME_MISMATCH,
    BIRTH_DATE_MISMATCH,
    UNREGISTERED_ACTIVATION,
    ID_OVER_LIMIT,
)
# Kinds decided per MSISDN (one registration against one operator record)...
MSISDN_KINDS = KINDS[:5]
# ...and the one decided per ID group.
GROUP_KINDS = (ID_OVER_LIMIT,)

# What the outlet is asked to clarify: the data it entered, a pack it sold unregistered, a
# number it registered beyond the cap. "Unknown to the operator" is the operator's own gap.
OUTLET_ACCOUNTABLE_KINDS = frozenset(KINDS) - {MISSING_IN_OPERATOR}


@dataclass(frozen=True, slots=True)
class PortalRow:
    """A registration, as reconciliation sees it."""

    registration_id: int
    registration_number: str
    msisdn: str
    outlet_id: int
    id_type: str
    id_number_digest: str
    id_number_masked: str
    full_name: str
    birth_date: date | None
    registered_at: datetime | None


@dataclass(slots=True)
class Finding:
    msisdn: str
    kind: str
    registration_id: int | None
    outlet_id: int | None
    details: dict
    id_digest: str = ""
    id_group: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.msisdn, self.kind)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def names_match(portal_name: str, operator_name_key: str) -> bool:
    """The name rule: equal once case, spacing and punctuation are ignored."""
    return normalize_name_for_comparison(portal_name or "") == (operator_name_key or "")


def compare(portal: PortalRow | None, operator, *, our_roids: Mapping[str, int]) -> list[Finding]:
    """The per-MSISDN discrepancies between a registration and the operator's record.

    ``operator`` is an ``core.operator.OperatorRecord`` or None; ``our_roids`` maps the
    portal's ROIDs to outlet ids.
    """
    if portal is None and operator is None:
        return []
    if operator is None:
        return [
            Finding(
                portal.msisdn,
                MISSING_IN_OPERATOR,
                portal.registration_id,
                portal.outlet_id,
                {
                    "portal": {
                        "registration_number": portal.registration_number,
                        "registered_at": _iso(portal.registered_at),
                    }
                },
            )
        ]
    if portal is None:
        outlet_id = our_roids.get(operator.outlet_roid) if operator.outlet_roid else None
        if operator.status != "active" or outlet_id is None:
            return []
        return [
            Finding(
                operator.msisdn,
                UNREGISTERED_ACTIVATION,
                None,
                outlet_id,
                {
                    "operator": {
                        "status": operator.status,
                        "activated_at": _iso(operator.activated_at),
                        "outlet_roid": operator.outlet_roid,
                        "iccid": operator.iccid,
                    }
                },
            )
        ]

    found = []

    def add(kind: str, details: dict) -> None:
        found.append(
            Finding(portal.msisdn, kind, portal.registration_id, portal.outlet_id, details)
        )

    if portal.id_number_digest != operator.id_number_digest:
        add(
            ID_NUMBER_MISMATCH,
            {
                "portal": {"id_type": portal.id_type, "id_number": portal.id_number_masked},
                "operator": {"id_type": operator.id_type, "id_number": operator.id_number_masked},
            },
        )
    if not names_match(portal.full_name, operator.name_key):
        add(
            NAME_MISMATCH,
            {
                "portal": {"full_name": portal.full_name},
                "operator": {"full_name": operator.full_name},
            },
        )
    if portal.birth_date != operator.birth_date:
        add(
            BIRTH_DATE_MISMATCH,
            {
                "portal": {"birth_date": _iso(portal.birth_date)},
                "operator": {"birth_date": _iso(operator.birth_date)},
            },
        )
    return found


def _activation_order(record) -> tuple:
    # Never-activated (NULL) last, as PostgreSQL's "activated_at NULLS LAST".
    at = record.activated_at
    return (at is None, at.timestamp() if at is not None else 0.0, record.msisdn)


def over_limit(
    group: Iterable,
    *,
    cap: int | None,
    registrations: Mapping[str, tuple[int, int]],
    our_roids: Mapping[str, int],
) -> list[Finding]:
    """The numbers of one ID group beyond ``cap``.

    ``group``: the *active* operator records sharing one ID digest. ``registrations`` maps
    MSISDN → (registration id, outlet id) for those registered here.
    """
    members = sorted(group, key=_activation_order)
    if cap is None or len(members) <= cap:
        return []
    msisdns = [m.msisdn for m in members]
    found = []
    for position, record in enumerate(members, start=1):
        if position <= cap:
            continue
        registration_id, outlet_id = registrations.get(record.msisdn, (None, None))
        if outlet_id is None and record.outlet_roid:
            outlet_id = our_roids.get(record.outlet_roid)
        found.append(
            Finding(
                record.msisdn,
                ID_OVER_LIMIT,
                registration_id,
                outlet_id,
                {
                    "operator": {
                        "id_type": record.id_type,
                        "id_number": record.id_number_masked,
                        "activated_at": _iso(record.activated_at),
                    },
                    "held": len(members),
                    "cap": cap,
                    "position": position,
                },
                id_digest=record.id_number_digest,
                id_group=msisdns,
            )
        )
    return found
