"""The risk signals of an outlet, each defined once (docs/risk.md says the same in words).

A signal is a property of one registration; an outlet's figure for a period is how many of its
registrations of the period (local day of ``registered_at``) carry it, out of all its
registrations of the period (``reports``' summary table). ``risk.refresh`` writes one
``RegistrationSignal`` row per registration and signal that holds, set-based; the figures, the
pages, the exports and the review filter all read those rows.

- ``pre_activation``: its number was activated at the operator before it was registered (a
  reconciliation finding of that kind, not dismissed by a reviewer);
- ``nik_reuse``: its NIK was registered at least ``RISK_NIK_REUSE_MIN`` times (any outlet)
  within ``RISK_WINDOW_HOURS`` before or after it;
- ``id_spread``: its NIK, or its KK, was registered at ``RISK_SPREAD_OUTLETS_MIN`` outlets or
  more within ``RISK_WINDOW_HOURS`` before or after it;
- ``kk_equals_nik``: the KK number given is the NIK itself;
- ``kk_crowded``: its KK was given with more than ``RISK_KK_MAX_NIKS`` different NIKs (all
  registrations, any time) — more people than a family card holds;
- ``odd_hours``: registered between ``RISK_ODD_HOUR_FROM``:00 and ``RISK_ODD_HOUR_TO``:00 local
  time;
- ``too_fast``: registered less than ``RISK_MIN_SECONDS_BETWEEN`` seconds after the same
  clerk's previous registration at the outlet — faster than a person can type one;
- ``registry_refused``: the population registry refused it (status "refused");
- ``holder_dispute``: the number's holder disputes it (a review item of the holder's dispute,
  not dismissed);
- ``birth_date_contradiction``: the birth date coded in the NIK's digits contradicts the
  registry's (the registry confirmed the date entered; the registration carries that warning).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

# The reconciliation finding of a number activated before its registration, and the review
# reason of a holder's dispute: their codes, read here, are owned by the layers that make them.
PRE_ACTIVATION_KIND = "activated_before_registration"
HOLDER_DISPUTE_CODE = "holder_dispute"
BIRTH_DATE_WARNING = "nik_birth_date_corrected"


@dataclass(frozen=True)
class Signal:
    code: str
    label: object  # short, for tables
    description: object  # one sentence a regulator reads
    via_digest: bool = False  # computed per ID/KK number (all its registrations at once)


SIGNALS: tuple[Signal, ...] = (
    Signal(
        "pre_activation",
        _("Activated before registration"),
        _("The number was already active at the operator before the outlet registered it."),
    ),
    Signal(
        "nik_reuse",
        _("One NIK on many numbers"),
        _(
            "The same NIK was used for several numbers within a few days (at this outlet or "
            "others)."
        ),
        via_digest=True,
    ),
    Signal(
        "id_spread",
        _("One NIK or KK at many outlets"),
        _("The same NIK or family card (KK) was registered at several outlets within a few days."),
        via_digest=True,
    ),
    Signal(
        "kk_equals_nik",
        _("KK equals the NIK"),
        _("The family card (KK) number entered is the NIK itself."),
    ),
    Signal(
        "kk_crowded",
        _("KK with too many NIKs"),
        _("The family card (KK) was given with more different NIKs than a family card holds."),
        via_digest=True,
    ),
    Signal(
        "odd_hours",
        _("Registered at odd hours"),
        _("Registered in the middle of the night, when outlets are normally closed."),
    ),
    Signal(
        "too_fast",
        _("Faster than a person can type"),
        _(
            "Registered by the same clerk too soon after the previous registration to have "
            "been typed."
        ),
    ),
    Signal(
        "registry_refused",
        _("Refused by the population registry"),
        _("The population registry (Dukcapil) refused the registration after the fact."),
    ),
    Signal(
        "holder_dispute",
        _("Disputed by the holder"),
        _("The person named in the registration says they did not register this number."),
    ),
    Signal(
        "birth_date_contradiction",
        _("NIK birth date contradicts the registry"),
        _("The date of birth coded in the NIK's digits differs from the registry's record."),
    ),
)
BY_CODE = {signal.code: signal for signal in SIGNALS}
CODES = tuple(BY_CODE)
LOCAL_CODES = tuple(s.code for s in SIGNALS if not s.via_digest)


def parameters() -> dict:
    """The settings the signals depend on; a change means a full rebuild of the signal rows."""
    return {
        "version": 1,
        "window_hours": settings.RISK_WINDOW_HOURS,
        "nik_reuse_min": settings.RISK_NIK_REUSE_MIN,
        "spread_outlets_min": settings.RISK_SPREAD_OUTLETS_MIN,
        "kk_max_niks": settings.RISK_KK_MAX_NIKS,
        "odd_hours": [settings.RISK_ODD_HOUR_FROM, settings.RISK_ODD_HOUR_TO],
        "min_seconds_between": settings.RISK_MIN_SECONDS_BETWEEN,
        "time_zone": settings.TIME_ZONE,
    }


def holder_dispute_q() -> Q:
    """Review items that are a holder's dispute, whatever shape the holder's door gives them:
    a reason code of their own, a kind of their own, or the code among the item's findings."""
    from compliance.models import ReviewItem

    fields = {f.name for f in ReviewItem._meta.get_fields()}
    condition = Q(discrepancy_kinds__contains=f",{HOLDER_DISPUTE_CODE},")
    if "reason_code" in fields:
        condition |= Q(reason_code=HOLDER_DISPUTE_CODE)
    if HOLDER_DISPUTE_CODE in ReviewItem.Kind.values:
        condition |= Q(kind=HOLDER_DISPUTE_CODE)
    return condition
