"""Judging a chunk's candidates against the database: one query per kind of lookup
(outlets, packs with their registrations, staff IDs, numbers held per ID), then each row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from outlets.models import Outlet, OutletStaff, StarterPack

from ..models import Registration
from .prepare import Candidate, PolicyBook, Rejected
from .reading import RowError
from .writing import Accepted, write_chunk


@dataclass
class ChunkOutcome:
    imported: int = 0
    skipped: int = 0
    flagged: int = 0
    packs_created: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ChunkWriter:
    book: PolicyBook
    actor_label: str
    source_label: str
    run_id: str
    outlets: dict[str, tuple[int, int]] = field(default_factory=dict)  # ROID -> (id, dealer id)

    def judge_and_write(self, candidates: list[Candidate], rejected: list[Rejected]):
        """Judge the chunk against the database (one query per kind of lookup) and write it.
        Rows already rejected get their unknown outlet reported as well."""
        outcome = ChunkOutcome()
        self._look_up_outlets({c.roid for c in candidates} | {r.roid for r in rejected if r.roid})
        for row in rejected:
            if row.roid and row.roid not in self.outlets:
                outcome.errors.append(
                    RowError(row.line, "outlet_roid", _("No outlet has this ROID."))
                )
        if not candidates:
            return outcome
        lookups = Lookups.fetch(candidates, self.outlets)
        accepted, new_packs, claimed_ids = [], [], []
        in_file: dict[str, Candidate] = {}  # MSISDN -> the row of this chunk that took it
        in_file_iccids: set[str] = set()
        for c in candidates:
            verdict = self._judge(c, lookups, in_file, in_file_iccids)
            if isinstance(verdict, RowError):
                outcome.errors.append(verdict)
            elif verdict is None:
                outcome.skipped += 1
            else:
                accepted.append(verdict)
                lookups.held[c.id_digest] += 1
                in_file[c.msisdn] = c
                if c.iccid:
                    in_file_iccids.add(c.iccid)
                if "id" in verdict.pack:
                    claimed_ids.append(verdict.pack["id"])
                else:
                    new_packs.append(verdict.pack)
        if accepted:
            write_chunk(accepted, new_packs, claimed_ids, book=self.book, audit=self)
        outcome.imported = len(accepted)
        outcome.flagged = sum(1 for entry in accepted if entry.review_reasons)
        outcome.packs_created = len(new_packs)
        return outcome

    def _look_up_outlets(self, roids: set[str]) -> None:
        wanted = roids - self.outlets.keys()
        if wanted:
            for roid, outlet_id, dealer_id in Outlet.objects.filter(roid__in=wanted).values_list(
                "roid", "id", "dealer_id"
            ):
                self.outlets[roid] = (outlet_id, dealer_id)

    def _judge(self, c: Candidate, lookups, in_file, in_file_iccids):
        """An ``Accepted``, a ``RowError``, or None for a sale imported before."""
        if c.roid not in self.outlets:
            return RowError(c.line, "outlet_roid", _("No outlet has this ROID."))
        outlet_id, dealer_id = self.outlets[c.roid]
        earlier = in_file.get(c.msisdn)
        if earlier is not None:
            if earlier.id_digest == c.id_digest and earlier.registered_at == c.registered_at:
                return None  # the same row twice in one file
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
        review_reasons = c.review_reasons  # copied before any change: a chunk may be retried
        staff_ids = lookups.staff_ids.get(outlet_id)
        staff_kks = lookups.staff_kks.get(outlet_id)
        if policy.staff_own_id_forbidden and (staff_ids or staff_kks):
            digests = {c.id_digest, c.kk_digest} - {""}
            if staff_ids and digests & staff_ids:
                return RowError(
                    c.line,
                    "id_number",
                    _("Outlet staff may not register buyers with their own ID."),
                )
            if c.kk_digest and staff_kks and digests & staff_kks:
                return RowError(
                    c.line,
                    "kk_number",
                    _("Outlet staff may not register buyers with their own KK."),
                )
        held = lookups.held[c.id_digest]
        if policy.max_numbers_per_id and held >= policy.max_numbers_per_id:
            if not policy.outlet_may_exceed_cap:
                return RowError(
                    c.line,
                    "id_number",
                    _("This ID already holds %(held)d numbers, the most the rules allow.")
                    % {"held": held},
                )
            review_reasons = [
                *review_reasons,
                {
                    "code": "over_cap",
                    "message": f"ID already holds {held} numbers (cap {policy.max_numbers_per_id})",
                },
            ]
        if pack is None:
            new_pack = {
                "msisdn": c.msisdn,
                "iccid": c.iccid or None,
                "dealer_id": dealer_id,
                "outlet_id": outlet_id,
            }
            return Accepted(c, new_pack, outlet_id, c.iccid, review_reasons)
        return Accepted(c, pack, outlet_id, c.iccid or pack["iccid"] or "", review_reasons)


@dataclass
class Lookups:
    by_msisdn: dict[str, dict]
    by_iccid: dict[str, dict]
    staff_ids: dict[int, set[str]]
    staff_kks: dict[int, set[str]]
    held: Counter  # ID digest -> numbers it holds now (as ``services.active_id_count``)

    @classmethod
    def fetch(cls, candidates: list[Candidate], outlets: dict) -> Lookups:
        """Everything the chunk's rows are judged on, one query each (``outlets``: looked up)."""
        msisdns = list({c.msisdn for c in candidates})
        iccids = list({c.iccid for c in candidates if c.iccid})
        outlet_ids = list({outlets[c.roid][0] for c in candidates if c.roid in outlets})
        id_digests = list({c.id_digest for c in candidates})
        fetch = _fetch_postgresql if connection.vendor == "postgresql" else _fetch_orm
        packs, staff, held = fetch(msisdns, iccids, outlet_ids, id_digests)

        by_msisdn, by_iccid = {}, {}
        for pack in packs:
            by_msisdn[pack["msisdn"]] = pack
            if pack["iccid"]:
                by_iccid[pack["iccid"]] = pack
        staff_ids: dict[int, set[str]] = {}
        staff_kks: dict[int, set[str]] = {}
        for outlet_id, id_digest, kk_digest in staff:
            if id_digest:
                staff_ids.setdefault(outlet_id, set()).add(id_digest)
            if kk_digest:
                staff_kks.setdefault(outlet_id, set()).add(kk_digest)
        return cls(by_msisdn, by_iccid, staff_ids, staff_kks, Counter(dict(held)))


_PACK_FIELDS = (
    "id", "msisdn", "iccid", "outlet_id", "status",
    "registration__id_number_digest", "registration__registered_at",
)  # fmt: skip


def _fetch_orm(msisdns, iccids, outlet_ids, id_digests):
    """The chunk's lookups through the ORM (any database): the packs of its MSISDNs and
    ICCIDs with their registrations, the active staff of its outlets, the numbers its ID
    numbers hold (as ``services.active_id_count`` counts them)."""
    packs = StarterPack.objects.filter(Q(msisdn__in=msisdns) | Q(iccid__in=iccids))
    if connection.features.has_select_for_update_of:
        packs = packs.select_for_update(of=("self",))
    staff = OutletStaff.objects.filter(outlet_id__in=outlet_ids, is_active=True).values_list(
        "outlet_id", "id_number_digest", "kk_number_digest"
    )
    held = (
        Registration.objects.filter(id_number_digest__in=id_digests)
        .exclude(status=Registration.Status.BLOCKED)
        .order_by()
        .values("id_number_digest")
        .annotate(n=Count("id"))
        .values_list("id_number_digest", "n")
    )
    return list(packs.values(*_PACK_FIELDS)), list(staff), list(held)


# FOR UPDATE OF the packs, as _fetch_orm: no clerk registers one between our check and write.
_PACKS_SQL = """
    SELECT p.id, p.msisdn, p.iccid, p.outlet_id, p.status, r.id_number_digest, r.registered_at
    FROM outlets_starterpack p
    LEFT OUTER JOIN subscribers_registration r ON r.starter_pack_id = p.id
    WHERE p.msisdn = ANY(%s) OR p.iccid = ANY(%s)
    FOR UPDATE OF p
"""
_STAFF_SQL = """
    SELECT outlet_id, id_number_digest, kk_number_digest FROM outlets_outletstaff
    WHERE outlet_id = ANY(%s) AND is_active
"""
_HELD_SQL = """
    SELECT id_number_digest, count(*) FROM subscribers_registration
    WHERE id_number_digest = ANY(%s) AND status <> %s
    GROUP BY id_number_digest
"""


def _fetch_postgresql(msisdns, iccids, outlet_ids, id_digests):
    """The same queries as ``_fetch_orm``, each with its values as one array parameter
    (``= ANY(%s)``): an ``IN`` list of 5 000 values costs Django more to build than the
    database to answer."""
    with connection.cursor() as cursor:
        cursor.execute(_PACKS_SQL, [msisdns, iccids])
        packs = [dict(zip(_PACK_FIELDS, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute(_STAFF_SQL, [outlet_ids])
        staff = cursor.fetchall()
        cursor.execute(_HELD_SQL, [id_digests, Registration.Status.BLOCKED.value])
        held = cursor.fetchall()
    return packs, staff, held


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
