"""Who answers for a starter pack: what reconciliation and the compliance workflow ask when a
discrepancy is found.

- a registered pack: the outlet that registered it (it answers for the data it took);
- an unregistered pack covered, on that day, by an agreement in force: the agreement's party;
- any other pack the portal knows: its dealer (docs/decisions.md: packs passed on stay the dealer's
  responsibility unless a responsibility-transfer agreement is on record).
An MSISDN the portal knows nothing of has no answer here (None / absent): the caller decides
(e.g. the ROID the operator's database says it was sold through).
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.utils import timezone

from core.arrays import AnyOf
from outlets.models import (
    AgreementRange,
    Dealer,
    Outlet,
    ResponsibleParty,
    StarterPack,
    TransferAgreement,
)

from .models import Registration


@dataclass(frozen=True)
class AccountableParty:
    OUTLET = "outlet"
    PARTY = "party"
    DEALER = "dealer"

    kind: str
    dealer_id: int
    label: str  # the outlet's ROID, the party's name or the dealer's code
    outlet_id: int | None = None
    party_id: int | None = None
    agreement_id: int | None = None


def _day(at: date | datetime) -> date:
    return timezone.localdate(at) if isinstance(at, datetime) else at


def _chunks(values: list, size: int | None = None):
    size = size or (900 if connection.vendor == "sqlite" else 10_000)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def accountable_parties_for_msisdns(
    *, msisdns: Iterable[str], at: date | datetime
) -> dict[str, AccountableParty]:
    """``accountable_party_for_msisdn`` for many MSISDNs (normalised, ``62…``) at once: a few
    chunked queries, and the agreements in force that day matched in memory."""
    day = _day(at)
    wanted = list(dict.fromkeys(msisdns))
    result: dict[str, AccountableParty] = {}
    for chunk in _chunks(wanted):
        # The registration of the number's current life: an earlier life's outlet answers
        # for nothing of the next holder's.
        rows = (
            Registration.objects.current_lives()
            .filter(AnyOf("msisdn", chunk))
            .values_list("msisdn", "outlet_id", "outlet__roid", "outlet__dealer_id")
        )
        for msisdn, outlet_id, roid, dealer_id in rows:
            result[msisdn] = AccountableParty(
                AccountableParty.OUTLET, dealer_id, roid, outlet_id=outlet_id
            )
    packs = []
    for chunk in _chunks([m for m in wanted if m not in result]):
        packs += (
            StarterPack.objects.current_lives()
            .filter(AnyOf("msisdn", chunk))
            .values_list("msisdn", "dealer_id", "dealer__code")
        )
    ranges = _ranges_in_force(day, dealer_ids={dealer_id for _m, dealer_id, _c in packs})
    for msisdn, dealer_id, dealer_code in packs:
        covering = _covering(ranges.get((dealer_id, len(msisdn))), msisdn)
        if covering is None:
            result[msisdn] = AccountableParty(AccountableParty.DEALER, dealer_id, dealer_code)
        else:
            _first, _last, agreement_id, party_id, party_name = covering
            result[msisdn] = AccountableParty(
                AccountableParty.PARTY,
                dealer_id,
                party_name,
                party_id=party_id,
                agreement_id=agreement_id,
            )
    return result


def _ranges_in_force(day: date, *, dealer_ids: set[int]) -> dict:
    """{(dealer, msisdn length): ranges sorted by first number} of agreements in force."""
    if not dealer_ids:
        return {}
    rows = AgreementRange.objects.filter(
        agreement__status=TransferAgreement.Status.ACTIVE,
        agreement__starts_on__lte=day,
        agreement__ends_on__gte=day,
        agreement__dealer_id__in=dealer_ids,
    ).values_list(
        "agreement__dealer_id",
        "msisdn_length",
        "msisdn_from",
        "msisdn_to",
        "agreement_id",
        "agreement__party_id",
        "agreement__party__name",
    )
    by_key = defaultdict(list)
    for dealer_id, length, first, last, agreement_id, party_id, party_name in rows:
        by_key[(dealer_id, length)].append((first, last, agreement_id, party_id, party_name))
    return {key: sorted(value) for key, value in by_key.items()}


def _covering(ranges: list | None, msisdn: str):
    # Agreements in force never overlap for one dealer (agreement_create refuses it), so the
    # only candidate is the last range starting at or before the number.
    if not ranges:
        return None
    index = bisect_right(ranges, (msisdn, "\uffff")) - 1
    if index >= 0 and ranges[index][0] <= msisdn <= ranges[index][1]:
        return ranges[index]
    return None


def accountable_party_for_msisdn(*, msisdn: str, at: date | datetime) -> AccountableParty | None:
    """Who is accountable for ``msisdn`` (``62…``) at ``at`` (a date, or a moment taken on its
    Jakarta date): the registering outlet, else the party of an agreement in force covering the
    pack, else the pack's dealer; None for an MSISDN the portal does not know."""
    return accountable_parties_for_msisdns(msisdns=[msisdn], at=at).get(msisdn)


def accountable_parties_on_days(
    pairs: list[tuple[str, date]],
) -> list[AccountableParty | None]:
    """``accountable_party_for_msisdn`` for many (MSISDN, day) pairs in one statement: the
    answer for each pair, in order (None for a number the portal does not know). The same
    rules: the registration of the number's current life (the earliest registered, should
    there be more), else the current pack and the agreement in force on that day covering it
    (agreements in force never overlap for one dealer), else the pack's dealer."""
    if not pairs:
        return []
    if connection.vendor != "postgresql":  # SQLite (`make run`'s default): a look-up a day
        by_day: dict[date, dict[str, AccountableParty]] = {}
        for day in {d for _m, d in pairs}:
            msisdns = [m for m, d in pairs if d == day]
            by_day[day] = accountable_parties_for_msisdns(msisdns=msisdns, at=day)
        return [by_day[d].get(m) for m, d in pairs]
    with connection.cursor() as cursor:
        cursor.execute(
            _ON_DAYS,
            {
                "msisdn": [m for m, _d in pairs],
                "day": [d for _m, d in pairs],
                "active": TransferAgreement.Status.ACTIVE,
            },
        )
        rows = cursor.fetchall()
    result: list[AccountableParty | None] = []
    for (
        outlet_id,
        roid,
        outlet_dealer,
        pack_dealer,
        dealer_code,
        agreement_id,
        party_id,
        party_name,
    ) in rows:
        if outlet_id is not None:
            party = AccountableParty(
                AccountableParty.OUTLET, outlet_dealer, roid, outlet_id=outlet_id
            )
        elif agreement_id is not None:
            party = AccountableParty(
                AccountableParty.PARTY,
                pack_dealer,
                party_name,
                party_id=party_id,
                agreement_id=agreement_id,
            )
        elif pack_dealer is not None:
            party = AccountableParty(AccountableParty.DEALER, pack_dealer, dealer_code)
        else:
            party = None
        result.append(party)
    return result


def _on_days_sql() -> str:
    return f"""
SELECT reg.outlet_id, reg.roid, reg.dealer_id, pack.dealer_id, pack.code,
       agr.id, agr.party_id, agr.name
FROM unnest(%(msisdn)s::varchar[], %(day)s::date[]) WITH ORDINALITY AS n(msisdn, day, ord)
LEFT JOIN LATERAL (
    SELECT r.outlet_id, o.roid, o.dealer_id
    FROM {Registration._meta.db_table} r
    JOIN {Outlet._meta.db_table} o ON o.id = r.outlet_id
    WHERE r.msisdn = n.msisdn AND r.life_ended_at IS NULL
    ORDER BY r.registered_at, r.id
    LIMIT 1
) reg ON true
LEFT JOIN LATERAL (
    SELECT p.dealer_id, d.code
    FROM {StarterPack._meta.db_table} p
    JOIN {Dealer._meta.db_table} d ON d.id = p.dealer_id
    WHERE p.msisdn = n.msisdn AND p.life_ended_at IS NULL AND reg.outlet_id IS NULL
    ORDER BY p.msisdn DESC, p.id DESC
    LIMIT 1
) pack ON true
LEFT JOIN LATERAL (
    SELECT a.id, a.party_id, rp.name
    FROM {AgreementRange._meta.db_table} ar
    JOIN {TransferAgreement._meta.db_table} a ON a.id = ar.agreement_id
    JOIN {ResponsibleParty._meta.db_table} rp ON rp.id = a.party_id
    WHERE a.dealer_id = pack.dealer_id AND a.status = %(active)s
      AND a.starts_on <= n.day AND a.ends_on >= n.day
      AND ar.msisdn_length = length(n.msisdn)
      AND ar.msisdn_from COLLATE "C" <= n.msisdn AND n.msisdn <= ar.msisdn_to COLLATE "C"
    ORDER BY ar.msisdn_from COLLATE "C" DESC
    LIMIT 1
) agr ON true
ORDER BY n.ord
"""  # noqa: S608 — table names of our own models; every value is a bound parameter


_ON_DAYS = _on_days_sql()
