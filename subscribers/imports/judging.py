"""Judging a chunk's candidates against the database: one query per kind of lookup
(outlets, packs with their registrations, the dealers' people's IDs, numbers held per ID, the
population registry's records), then each row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from core.registry import RegistryUnavailable, get_registry, registry_timeout
from identity.idrules import normalize_name_for_comparison
from outlets.models import Outlet, StarterPack
from outlets.selectors import InsiderDigests, insider_digests

from .. import registry_check, rulebook
from ..models import Category, Registration
from ..rules import CleanRegistration, FieldErrors, judge_against_registry
from ..services import (
    INSIDER_KK_REASON,
    cap_message,
    counts_against_cap,
    insider_id_message,
    over_cap_reason,
)
from .prepare import Candidate, PolicyBook, Rejected
from .reading import RowError
from .writing import Accepted, new_ids, write_chunk


@dataclass
class ChunkOutcome:
    imported: int = 0
    skipped: int = 0
    # Rows repeating an earlier row of the file exactly (the same sale): (line, earlier line).
    repeats: list[tuple[int, int]] = field(default_factory=list)
    flagged: int = 0
    awaiting: int = 0
    packs_created: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class Judged:
    """A chunk judged against the database, ready to be written."""

    outcome: ChunkOutcome
    accepted: list[Accepted]
    new_packs: list[dict]  # given their "id" when written
    claimed: list[dict]  # the looked-up packs in stock the rows take
    ids: list | None = None  # the registrations' ids when drawn before the write


class Unwritten:
    """What the chunks handed to the writer, and not yet known committed, will have written:
    the next chunk is judged on the database's answers plus these, as if they were committed
    (the writer's connection commits them in its own time)."""

    def __init__(self) -> None:
        self.by_msisdn: dict[str, Accepted] = {}
        self.iccids: set[str] = set()  # new packs' ICCIDs
        self.held: Counter = Counter()  # ID digest -> personal numbers taken
        self.ids: set[int] = set()  # their registrations' ids (the database may hold them)

    def add(self, judged: Judged) -> None:
        for entry in judged.accepted:
            c = entry.row
            self.by_msisdn[c.msisdn] = entry
            if c.category == Category.PERSONAL:
                self.held[c.id_digest] += 1
        self.iccids.update(pack["iccid"] for pack in judged.new_packs if pack["iccid"])
        self.ids.update(judged.ids or ())

    def remove(self, judged: Judged) -> None:
        for entry in judged.accepted:
            c = entry.row
            del self.by_msisdn[c.msisdn]
            if c.category == Category.PERSONAL:
                self.held[c.id_digest] -= 1
                if not self.held[c.id_digest]:
                    del self.held[c.id_digest]
        self.iccids.difference_update(pack["iccid"] for pack in judged.new_packs)
        self.ids.difference_update(judged.ids or ())

    def apply(self, lookups: Lookups, msisdns) -> None:
        """The chunk's lookups as the database will answer them once these are committed."""
        for msisdn in self.by_msisdn.keys() & msisdns:
            lookups.by_msisdn[msisdn] = _as_looked_up(self.by_msisdn[msisdn])
        for iccid in self.iccids & lookups.wanted_iccids:
            lookups.by_iccid.setdefault(iccid, {})  # only whether it is taken is asked
        for digest in self.held.keys() & lookups.wanted_digests:
            lookups.held[digest] += self.held[digest]


def _as_looked_up(entry: Accepted) -> dict:
    """An accepted row's pack as the packs' query returns it once the row is written."""
    c = entry.row
    return {
        "id": entry.pack.get("id"),
        "msisdn": entry.pack["msisdn"],
        "iccid": entry.pack["iccid"],
        "outlet_id": entry.outlet_id,
        "status": StarterPack.Status.REGISTERED,
        "registration__id_number_digest": c.id_digest,
        "registration__registered_at": datetime.fromisoformat(c.registered_at),
    }


@dataclass
class ChunkWriter:
    book: PolicyBook
    actor_label: str
    source_label: str
    run_id: str
    # ROID -> (id, dealer id, kind, authorised by the operator from)
    outlets: dict[str, tuple] = field(default_factory=dict)
    # the PolicyBook's index -> its predicates (``rulebook.compiled``)
    rules: dict[int, rulebook.Compiled] = field(default_factory=dict)

    def judge_and_write(self, candidates: list[Candidate], rejected: list[Rejected]):
        """Judge the chunk and write it, in the caller's transaction."""
        judged = self.judge(candidates, rejected)
        self.write(judged)
        return judged.outcome

    def write(self, judged: Judged) -> None:
        if judged.accepted:
            write_chunk(
                judged.accepted,
                judged.new_packs,
                judged.claimed,
                book=self.book,
                audit=self,
                ids=judged.ids,
            )

    def judge(
        self,
        candidates: list[Candidate],
        rejected: list[Rejected],
        *,
        unwritten: Unwritten | None = None,
    ) -> Judged:
        """Judge the chunk against the database (one query per kind of lookup), and against
        ``unwritten`` (chunks judged before it and not yet committed; their rows' ids are then
        drawn here). Rows already rejected get their unknown outlet reported as well."""
        outcome = ChunkOutcome()
        self._look_up_outlets({c.roid for c in candidates} | {r.roid for r in rejected if r.roid})
        for row in rejected:
            if row.roid and row.roid not in self.outlets:
                outcome.errors.append(
                    RowError(row.line, "outlet_roid", _("No outlet has this ROID."))
                )
        if not candidates:
            return Judged(outcome, [], [], [])
        lookups = Lookups.fetch(candidates, self.outlets, unwritten=unwritten)
        accepted, new_packs, claimed = [], [], []
        in_file: dict[str, Candidate] = {}  # MSISDN -> the row of this chunk that took it
        in_file_iccids: set[str] = set()
        for c in candidates:
            verdict = self._judge(c, lookups, in_file, in_file_iccids)
            if isinstance(verdict, RowError):
                outcome.errors.append(verdict)
            elif verdict is None:
                outcome.skipped += 1
            elif isinstance(verdict, int):
                outcome.repeats.append((c.line, verdict))
            else:
                accepted.append(verdict)
                if c.category == Category.PERSONAL:
                    lookups.held[c.id_digest] += 1
                in_file[c.msisdn] = c
                if c.iccid:
                    in_file_iccids.add(c.iccid)
                if "id" in verdict.pack:
                    claimed.append(verdict.pack)
                else:
                    new_packs.append(verdict.pack)
        outcome.imported = len(accepted)
        outcome.flagged = sum(1 for entry in accepted if entry.review_reasons)
        outcome.awaiting = sum(1 for entry in accepted if entry.awaiting)
        outcome.packs_created = len(new_packs)
        judged = Judged(outcome, accepted, new_packs, claimed)
        if unwritten is not None and accepted:
            judged.ids = new_ids(Registration, len(accepted))
        return judged

    def _rules(self, index: int) -> rulebook.Compiled:
        """The rule set's predicates (built once per rule set), looked up once per run."""
        rules = self.rules.get(index)
        if rules is None:
            rules = self.rules[index] = rulebook.compiled(self.book.policies[index])
        return rules

    def _look_up_outlets(self, roids: set[str]) -> None:
        wanted = roids - self.outlets.keys()
        if wanted:
            for roid, *values in Outlet.objects.filter(roid__in=wanted).values_list(
                "roid", "id", "dealer_id", "kind", "operator_authorised_from"
            ):
                self.outlets[roid] = tuple(values)

    def _judge(self, c: Candidate, lookups, in_file, in_file_iccids):
        """An ``Accepted``, a ``RowError``, None for a sale imported before, or the line of
        the row of this chunk that this row repeats exactly."""
        if c.roid not in self.outlets:
            return RowError(c.line, "outlet_roid", _("No outlet has this ROID."))
        outlet_id, dealer_id, outlet_kind, authorised_from = self.outlets[c.roid]
        earlier = in_file.get(c.msisdn)
        if earlier is not None:
            if earlier.id_digest == c.id_digest and earlier.registered_at == c.registered_at:
                return earlier.line  # the same row twice in one file: the same sale
            return RowError(
                c.line,
                "msisdn",
                _("This starter pack is already registered by line %(line)d of this file.")
                % {"line": earlier.line},
            )
        pack = lookups.by_msisdn.get(c.msisdn)
        if pack is not None and pack["registration__registered_at"] is not None:
            if pack["registration__id_number_digest"] == c.id_digest and pack[
                "registration__registered_at"
            ] == datetime.fromisoformat(c.registered_at):
                return None  # imported before
            return RowError(c.line, "msisdn", _("This starter pack is already registered."))
        fault = _pack_fault(c, pack, outlet_id, lookups.by_iccid, in_file_iccids)
        if fault is not None:
            return fault

        policy = self.book.policies[c.policy]
        rules = self._rules(c.policy)
        day = date.fromisoformat(c.registered_at[:10])
        review_reasons = list(c.review_reasons)  # copied: a chunk may be retried
        warnings: list[dict] = []
        insiders = lookups.insiders.get(dealer_id) or InsiderDigests()
        held = lookups.held[c.id_digest]
        facts = {
            "imported": True,
            "personal": c.category == Category.PERSONAL,
            "insider_id": c.id_digest in insiders.id_digests,
            "insider_kk": bool(kk_digest := c.kk_digest or _registry_kk(lookups, c))
            and kk_digest in insiders.kk_digests,
            "held_before": held,
            "outlet_operator": outlet_kind == Outlet.Kind.OPERATOR,
            "outlet_authorised": authorised_from is not None and authorised_from <= day,
            "has_purpose": False,  # a file carries no declared purpose
            "document_refused": c.document_checked is False,
        }
        if rules.insider_id.holds(facts):
            return RowError(c.line, "id_number", insider_id_message())
        if rules.insider_kk.holds(facts):
            review_reasons.append(dict(INSIDER_KK_REASON))
        if rules.cap_refused.holds(facts):
            return RowError(c.line, "id_number", cap_message(policy, held=held))
        if rules.over_cap_permitted.holds(facts):
            review_reasons.append(over_cap_reason(held + 1, policy.max_numbers_per_id))
        if rules.purpose_missing_imported.holds(facts):
            # A person looks at it (and reports it).
            review_reasons.append(
                {
                    "code": "declared_purpose_missing",
                    "message": f"NIK holds {held + 1} numbers, over "
                    f"{policy.declared_purpose_above}, no declared purpose on record",
                }
            )
        if rules.document_not_checked.holds(facts):
            # Not known (no column, or empty) is recorded as such; a "no" is a person's look.
            review_reasons.append(
                {
                    "code": "document_not_checked",
                    "message": "the rules in force ask for the original e-KTP and KK to be "
                    "shown; the file says the original document was not checked",
                }
            )
        awaiting = checked = False
        if c.asks_registry:
            if lookups.registry is None:
                awaiting = True
            else:
                fault = _judge_registry(
                    c, lookups.registry.get(c.id_digest), warnings, policy=policy
                )
                if fault is not None:
                    return fault
                checked = True
        if pack is None:
            pack = {
                "msisdn": c.msisdn,
                "iccid": c.iccid or None,
                "dealer_id": dealer_id,
                "outlet_id": outlet_id,
            }
            iccid = c.iccid
        else:
            iccid = c.iccid or pack["iccid"] or ""
        return Accepted(
            c, pack, outlet_id, iccid, review_reasons, warnings, awaiting=awaiting, checked=checked
        )


def _judge_registry(c: Candidate, person, warnings: list[dict], *, policy) -> RowError | None:
    """A row against the registry's record of its NIK, as the form is judged: a KK the
    registry does not pair with the NIK is the row's fault where the rule set asks for the KK
    (as at the counter), a warning where it does not. The first fault is the row's error."""
    if (
        person is not None
        and not c.nik_disagreements
        and (not c.kk_masked or person.kk_digest == c.kk_digest)
        and person.sex == c.sex
        and person.birth_date.isoformat() == c.birth_date
        and person.name_key == normalize_name_for_comparison(c.full_name)
    ):
        return None  # the registry agrees on everything: no fault, nothing to note
    clean = CleanRegistration(
        msisdn=c.msisdn, iccid=c.iccid, id_type=c.id_type, id_number="",
        kk_number=c.kk_masked, full_name=c.full_name, birth_place=c.birth_place,
        birth_date=date.fromisoformat(c.birth_date), sex=c.sex, address=c.address,
        nationality=c.nationality, nik_disagreements=c.nik_disagreements or {},
    )  # fmt: skip
    errors = FieldErrors()
    judge_against_registry(
        clean,
        person,
        kk_digest=c.kk_digest,
        kk_asked=registry_check.kk_asked(policy, clean),
        errors=errors,
    )
    for name, messages in errors.errors.items():
        return RowError(c.line, name, messages[0])
    warnings.extend(clean.warnings)
    return None


@dataclass
class Lookups:
    by_msisdn: dict[str, dict]
    by_iccid: dict[str, dict]
    insiders: dict[int, InsiderDigests]  # dealer id -> its people's NIK and KK digests
    held: Counter  # ID digest -> numbers it holds against the cap now (``services.cap_count``)
    # NIK digest -> the registry's record (absent: unknown NIK); None: the registry is away.
    registry: dict | None = None
    wanted_digests: set = frozenset()
    wanted_iccids: set = frozenset()

    @classmethod
    def fetch(
        cls, candidates: list[Candidate], outlets: dict, *, unwritten: Unwritten | None = None
    ) -> Lookups:
        """Everything the chunk's rows are judged on, one query each (``outlets``: looked up),
        with what the ``unwritten`` chunks will have written (the packs are then not locked:
        the writer's claim checks them again)."""
        msisdn_set = {c.msisdn for c in candidates}
        msisdns = list(msisdn_set)
        iccid_set = {c.iccid for c in candidates if c.iccid}
        iccids = list(iccid_set)
        dealer_ids = {outlets[c.roid][1] for c in candidates if c.roid in outlets}
        id_digest_set = {c.id_digest for c in candidates}
        id_digests = list(id_digest_set)
        if connection.vendor == "postgresql":
            if unwritten is None:
                packs, held = _fetch_postgresql(msisdns, iccids, id_digests)
            else:
                packs, held = _fetch_postgresql(
                    msisdns, iccids, id_digests, excluding=list(unwritten.ids), lock=False
                )
        else:
            packs, held = _fetch_orm(msisdns, iccids, id_digests)

        by_msisdn, by_iccid = {}, {}
        for pack in packs:
            by_msisdn[pack["msisdn"]] = pack
            if pack["iccid"]:
                by_iccid[pack["iccid"]] = pack
        insiders = insider_digests(dealer_ids=dealer_ids) if dealer_ids else {}
        lookups = cls(
            by_msisdn, by_iccid, insiders, Counter(dict(held)), _registry(candidates),
            id_digest_set, iccid_set,
        )  # fmt: skip
        if unwritten is not None:
            unwritten.apply(lookups, msisdn_set)
        return lookups


def _registry_kk(lookups: Lookups, c: Candidate) -> str:
    """The buyer's KK as the population registry knows it (the digest), where the row gives
    none: the end-user rule looks at the family card whether or not the seller entered it."""
    person = (lookups.registry or {}).get(c.id_digest)
    return getattr(person, "kk_digest", "") or ""


def _registry(candidates: list[Candidate]) -> dict | None:
    """The registry's records of the chunk's NIKs that need it, by NIK digest; None when the
    registry cannot answer (those rows are imported awaiting verification)."""
    digests = {c.nik: c.id_digest for c in candidates if c.asks_registry}
    if not digests:
        return {}
    try:
        people = get_registry().lookup(digests, timeout=registry_timeout(), digests=digests)
    except RegistryUnavailable:
        return None
    return {person.nik_digest: person for person in people.values()}


_PACK_FIELDS = (
    "id", "msisdn", "iccid", "outlet_id", "status",
    "registration__id_number_digest", "registration__registered_at",
)  # fmt: skip


def _held(id_digests, excluding=()) -> list:
    """Per ID digest of the chunk, the numbers it holds against the cap — counted by the one
    definition (``services.counts_against_cap``), its digests as one array parameter on
    PostgreSQL (an ``IN`` list of 5 000 values costs Django more to build than the database to
    answer); the registrations of ids ``excluding`` not counted."""
    held = Registration.objects.filter(counts_against_cap())
    if connection.vendor == "postgresql":
        held = held.extra(
            where=["subscribers_registration.id_number_digest = ANY(%s)"], params=[id_digests]
        )
        if excluding:
            # One array literal: cheaper to send and to parse than ARRAY[...] of 10 000 values.
            held = held.extra(
                where=["subscribers_registration.id <> ALL(%s::bigint[])"],
                params=["{" + ",".join(map(str, excluding)) + "}"],
            )
    else:
        held = held.filter(id_number_digest__in=id_digests).exclude(pk__in=excluding)
    return list(
        held.order_by()
        .values("id_number_digest")
        .annotate(n=Count("id"))
        .values_list("id_number_digest", "n")
    )


def _fetch_orm(msisdns, iccids, id_digests):
    """The chunk's lookups through the ORM (any database): the packs of its MSISDNs and
    ICCIDs with their registrations, the numbers its ID numbers hold against the cap."""
    packs = StarterPack.objects.current_lives().filter(Q(msisdn__in=msisdns) | Q(iccid__in=iccids))
    if connection.features.has_select_for_update_of:
        packs = packs.select_for_update(of=("self",))
    return list(packs.values(*_PACK_FIELDS)), _held(id_digests)


_PACKS_SQL = """
    SELECT p.id, p.msisdn, p.iccid, p.outlet_id, p.status, r.id_number_digest, r.registered_at
    FROM outlets_starterpack p
    LEFT OUTER JOIN subscribers_registration r ON r.starter_pack_id = p.id
    WHERE (p.msisdn = ANY(%s) OR p.iccid = ANY(%s)) AND p.life_ended_at IS NULL
"""
# FOR UPDATE OF the packs, as _fetch_orm: no clerk registers one between our check and write
# in the same transaction. (A chunk written by another connection has its claim check the
# packs again instead: ``writing.write_chunk``.)
_LOCK_PACKS = "FOR UPDATE OF p"


def _fetch_postgresql(msisdns, iccids, id_digests, *, excluding=(), lock=True):
    """The packs as ``_fetch_orm``, with the values as one array parameter (``= ANY(%s)``)."""
    with connection.cursor() as cursor:
        cursor.execute(_PACKS_SQL + _LOCK_PACKS if lock else _PACKS_SQL, [msisdns, iccids])
        packs = [dict(zip(_PACK_FIELDS, row, strict=True)) for row in cursor.fetchall()]
    return packs, _held(id_digests, excluding)


def _pack_fault(c: Candidate, pack, outlet_id, by_iccid, in_file_iccids) -> RowError | None:
    """Why the row's pack cannot be registered at its outlet, or None."""
    if pack is None:
        if c.iccid and (c.iccid in by_iccid or c.iccid in in_file_iccids):
            return RowError(c.line, "iccid", _("This ICCID belongs to another starter pack."))
        return None
    if pack["outlet_id"] != outlet_id:
        return RowError(c.line, "msisdn", _("This starter pack is in the stock of another outlet."))
    if pack["status"] != StarterPack.Status.IN_STOCK:
        return RowError(
            c.line,
            "msisdn",
            _("This starter pack is %(status)s.")
            % {"status": StarterPack.Status(pack["status"]).label.lower()},
        )
    if c.iccid and pack["iccid"] and c.iccid != pack["iccid"]:
        return RowError(
            c.line,
            "iccid",
            _("This ICCID does not belong to the starter pack %(msisdn)s.") % {"msisdn": c.msisdn},
        )
    return None
