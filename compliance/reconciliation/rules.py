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
  and no registration here of the number's current life.
- ``activated_before_registration``: under a rule set with packs sold inactive, the operator
  activated the number's life more than ``RECONCILIATION_CLOCK_SKEW_SECONDS`` before its
  registration: a pre-registered (pre-activated) starter pack.

A registration is compared only with the operator's record of its own life of the number
(``life_of``, docs/number-lives.md): a record issued after the registration (the number was
deactivated, rested its quarantine and was issued again) or a life that ended after it was
registered means the registration's life ended — it is settled, not compared. A registration
registered after the record's life ended has no record of its life: "unknown to the operator".
"Unknown to the operator" waits for the activation grace period (counted from the registry's
verification, else the sale) and never concerns a registration awaiting the registry (its
pack is inactive by rule); one the registry refused is no sale and is not compared at all.
- ``id_over_limit``: one ID digest holds more *active* operator numbers than the cap of the
  policy in force. The numbers beyond the cap, in activation order (then MSISDN), are the
  discrepancies: the first ``cap`` numbers were within the rules when they were sold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from identity.idrules import normalize_name_for_comparison

MISSING_IN_OPERATOR = "missing_in_operator"
ID_NUMBER_MISMATCH = "id_number_mismatch"
NAME_MISMATCH = "name_mismatch"
BIRTH_DATE_MISMATCH = "birth_date_mismatch"
UNREGISTERED_ACTIVATION = "unregistered_activation"
ACTIVATED_BEFORE_REGISTRATION = "activated_before_registration"
ID_OVER_LIMIT = "id_over_limit"

KINDS = (
    MISSING_IN_OPERATOR,
    ID_NUMBER_MISMATCH,
    NAME_MISMATCH,
    BIRTH_DATE_MISMATCH,
    UNREGISTERED_ACTIVATION,
    ACTIVATED_BEFORE_REGISTRATION,
    ID_OVER_LIMIT,
)
# Kinds decided per MSISDN (one registration against one operator record)...
MSISDN_KINDS = KINDS[:6]
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
    status: str = "registered"
    # The rule set's packs_sold_inactive, and when the activation grace period starts (the
    # registry's verification, else the sale).
    packs_sold_inactive: bool = False
    grace_start: datetime | None = None


# How a registration stands to the operator's record of its number (``life_of``).
SAME_LIFE = "same"
EARLIER_LIFE = "earlier"  # the record is of a later issue of the number
ENDED_LIFE = "ended"  # the record's life, the registration's own, has ended
NO_LIFE = "none"  # no record of the registration's life


def life_of(portal: PortalRow, operator) -> str:
    """Which life of the number ``operator`` (the record of its MSISDN, or None) describes,
    seen from ``portal``. A new life is only ever what the operator says (``issued_at``,
    ``deactivated_at``), never inferred from a differing holder."""
    if operator is None:
        return NO_LIFE
    at = portal.registered_at
    if operator.issued_at is not None and at < operator.issued_at:
        return EARLIER_LIFE
    if operator.deactivated_at is not None:
        return ENDED_LIFE if at < operator.deactivated_at else NO_LIFE
    return SAME_LIFE


def life_ended_at(portal: PortalRow, operator) -> datetime | None:
    """When ``portal``'s life of the number ended, by ``operator``'s record; None if it lives."""
    life = life_of(portal, operator)
    if life == EARLIER_LIFE:
        return operator.deactivated_at or operator.issued_at
    if life == ENDED_LIFE:
        return operator.deactivated_at
    return None


@dataclass(frozen=True, slots=True)
class Tolerances:
    """The run's clock: ``now``, the activation grace period and the clock-skew tolerance."""

    now: datetime
    grace: timedelta
    skew: timedelta


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


def compare_number(
    portals: list[PortalRow], operator, *, our_roids: Mapping[str, int], clock: Tolerances
) -> tuple[list[Finding], dict[int, datetime]]:
    """The per-MSISDN discrepancies of one number: its registrations here (``portals``, of
    lives not known to have ended, none refused) and the operator's record (or None).
    Returns the findings and {registration id: when its life ended} for registrations whose
    life the record shows ended."""
    found: list[Finding] = []
    ended: dict[int, datetime] = {}
    current = False
    for portal in portals:
        life = life_of(portal, operator)
        if life in (EARLIER_LIFE, ENDED_LIFE):
            ended[portal.registration_id] = life_ended_at(portal, operator)
            continue
        if life == SAME_LIFE:
            current = True
        found.extend(compare(portal, operator if life == SAME_LIFE else None, clock=clock))
    if not current and operator is not None:
        found.extend(compare(None, operator, our_roids=our_roids, clock=clock))
    return found, ended


def compare(
    portal: PortalRow | None,
    operator,
    *,
    our_roids: Mapping[str, int] | None = None,
    clock: Tolerances,
) -> list[Finding]:
    """The discrepancies between a registration and the operator's record of *its life* of
    the number (None: no record of that life); or, with ``portal`` None, those of an operator
    record no registration of its life stands for.

    ``operator`` is an ``core.operator.OperatorRecord`` or None; ``our_roids`` maps the
    portal's ROIDs to outlet ids.
    """
    if portal is None and operator is None:
        return []
    if operator is None:
        if portal.status == "awaiting":
            return []  # inactive by rule until the registry answers
        start = portal.grace_start or portal.registered_at
        if start is not None and start > clock.now - clock.grace:
            return []  # the network has not had its time to activate it yet
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
        roids = our_roids or {}
        outlet_id = roids.get(operator.outlet_roid) if operator.outlet_roid else None
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
    if (
        portal.packs_sold_inactive
        and operator.activated_at is not None
        and portal.registered_at is not None
        and operator.activated_at < portal.registered_at - clock.skew
    ):
        add(
            ACTIVATED_BEFORE_REGISTRATION,
            {
                "portal": {"registered_at": _iso(portal.registered_at)},
                "operator": {"activated_at": _iso(operator.activated_at)},
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
