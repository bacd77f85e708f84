"""The generic reconciliation engine: operator records through the adapter, rules in Python.

Used when the operator's data does not live in the portal's database, and on SQLite (``make
run``). Chunked like the set-based engine — a chunk reads its MSISDN range (or its changed
MSISDNs) in a few bulk queries and writes in bulk — so it is correct at any size and fast
enough for a laptop, never a query per registration.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db.models import Q
from django.db.models.functions import Coalesce

from core.audit import AuditAction
from core.models import AuditEvent
from outlets.models import Outlet
from subscribers.models import Registration

from ..models import Discrepancy
from . import rules
from .sql import ChunkResult

BATCH = 1000
REFRESHED_FIELDS = (
    "registration_id",
    "outlet_id",
    "details",
    "id_digest",
    "id_group",
    "last_seen_run",
    "last_seen_at",
)
PORTAL_FIELDS = (
    "id",
    "registration_number",
    "msisdn",
    "outlet_id",
    "id_type",
    "id_number_digest",
    "id_number_masked",
    "full_name",
    "birth_date",
    "registered_at",
    "status",
    "policy__packs_sold_inactive",
    "grace_start",
)


def _batched(values: Iterable, size: int = BATCH) -> Iterator[list]:
    batch: list = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _key_range(field: str, lo: str | None, hi: str | None) -> Q:
    q = Q()
    if lo is not None:
        q &= Q(**{f"{field}__gte": lo})
    if hi is not None:
        q &= Q(**{f"{field}__lt": hi})
    return q


def compared_registrations():
    """The registrations reconciliation compares: of a life of their number not known to
    have ended, not refused by the registry (no sale), not anonymised (nothing left)."""
    return (
        Registration.objects.current_lives()
        .exclude(status=Registration.Status.REFUSED)
        .exclude(privacy__anonymised_at__isnull=False)
        .annotate(grace_start=Coalesce("registry_checked_at", "registered_at"))
    )


def _portal_rows(queryset) -> Iterator[rules.PortalRow]:
    for row in queryset.order_by().values_list(*PORTAL_FIELDS).iterator(chunk_size=BATCH):
        yield rules.PortalRow(*row)


def findings_of_registration(registration_id: int, *, adapter, now) -> set[str] | None:
    """The per-MSISDN kinds the rules find for one registration now — its values as stored
    and the operator's record of its number (``rules.compare_number``, as a run would) — or
    None when reconciliation no longer compares it (its life ended, refused, anonymised)."""
    rows = list(_portal_rows(compared_registrations().filter(pk=registration_id)))
    if not rows:
        return None
    msisdn = rows[0].msisdn
    operator = adapter.lookup([msisdn]).get(msisdn)
    found, ended = rules.compare_number(rows, operator, our_roids=our_roids(), clock=clock_for(now))
    if registration_id in ended:
        return None
    return {f.kind for f in found if f.registration_id == registration_id}


def clock_for(now) -> rules.Tolerances:
    from . import engine

    return rules.Tolerances(now=now, grace=engine.activation_grace(), skew=engine.clock_skew())


def end_lives(ended: dict[int, object]) -> int:
    """Registrations (and their packs) whose life of the number ended: marked once, with
    when. ``updated_at`` is left alone: the engine's own verdict, not a change to re-read."""
    from outlets.models import StarterPack

    marked = 0
    by_time: dict[object, list[int]] = {}
    for registration_id, at in ended.items():
        by_time.setdefault(at, []).append(registration_id)
    for at, ids in by_time.items():
        for batch in _batched(sorted(ids)):
            marked += Registration.objects.filter(pk__in=batch, life_ended_at__isnull=True).update(
                life_ended_at=at
            )
            StarterPack.objects.filter(
                registration__pk__in=batch, life_ended_at__isnull=True
            ).update(life_ended_at=at)
    return marked


def our_roids() -> dict[str, int]:
    return dict(Outlet.objects.values_list("roid", "id"))


def grace_ending(since, now) -> Q:
    """Registrations whose activation grace period ends in ``[since, now]``: nothing about
    them changes then, yet the first run after it must look at them again."""
    from . import engine

    grace = engine.activation_grace()
    return Q(grace_start__gte=since - grace, grace_start__lte=now - grace)


def changed_msisdns(*, adapter, since, lo=None, hi=None, now=None) -> set[str]:
    """MSISDNs changed at or after ``since`` on either side (or whose registration's grace
    period ended since), within ``[lo, hi)``."""
    in_range = _key_range("msisdn", lo, hi)
    changed = set(
        Registration.objects.filter(in_range, updated_at__gte=since)
        .values_list("msisdn", flat=True)
        .iterator(chunk_size=BATCH)
    )
    if now is not None:
        changed.update(
            Registration.objects.annotate(
                grace_start=Coalesce("registry_checked_at", "registered_at")
            )
            .filter(in_range, grace_ending(since, now))
            .values_list("msisdn", flat=True)
            .iterator(chunk_size=BATCH)
        )
    changed.update(record.msisdn for record in adapter.iter_range(lo, hi, since=since))
    return changed


def _apply(
    findings: list[rules.Finding],
    *,
    run,
    now,
    scope: Q | tuple[str, set[str]],
    kinds,
    flag: bool,
    per_life: bool = False,
) -> ChunkResult:
    """Resolve the open ones of the scope not found again, refresh those found again, open
    the new ones. ``per_life``: a finding is the same discrepancy only for the same
    registration (a number's next life never inherits its previous life's discrepancy)."""
    result = ChunkResult()
    found = {f.key: f for f in findings}
    same_life = {f.key: f.registration_id for f in findings}

    def unfound(msisdn, kind, registration_id) -> bool:
        key = (msisdn, kind)
        if key not in found:
            return True
        return per_life and same_life[key] != registration_id

    # Resolved first: a new life's finding opens only once the previous life's is closed.
    if isinstance(scope, Q):
        scopes: Iterable[Q] = [scope]
    else:  # (field, keys): an explicit set of keys, asked for in batches
        field_name, keys = scope
        scopes = (Q(**{f"{field_name}__in": batch}) for batch in _batched(sorted(keys)))
    gone = []
    for scope_q in scopes:
        for pk, msisdn, kind, registration_id in Discrepancy.objects.filter(
            scope_q, status=Discrepancy.Status.OPEN, kind__in=kinds
        ).values_list("pk", "msisdn", "kind", "registration_id"):
            if unfound(msisdn, kind, registration_id):
                gone.append(pk)
                result.resolved[kind] = result.resolved.get(kind, 0) + 1
    for batch in _batched(gone):
        Discrepancy.objects.filter(pk__in=batch).update(
            status=Discrepancy.Status.RESOLVED, resolved_at=now, resolved_by_run=run
        )
    for finding in found.values():
        result.found[finding.kind] = result.found.get(finding.kind, 0) + 1

    # Open ones found again, wherever they are (an over-limit number may have changed group).
    existing: dict[tuple[str, str], Discrepancy] = {}
    for batch in _batched(sorted({key[0] for key in found})):
        for discrepancy in Discrepancy.objects.select_for_update().filter(
            status=Discrepancy.Status.OPEN, kind__in=kinds, msisdn__in=batch
        ):
            existing[(discrepancy.msisdn, discrepancy.kind)] = discrepancy
    refreshed, new = [], []
    for key, finding in found.items():
        values = {
            "registration_id": finding.registration_id,
            "outlet_id": finding.outlet_id,
            "details": finding.details,
            "id_digest": finding.id_digest,
            "id_group": finding.id_group,
            "last_seen_run": run,
            "last_seen_at": now,
        }
        discrepancy = existing.get(key)
        if discrepancy is None:
            new.append(
                Discrepancy(
                    msisdn=finding.msisdn,
                    kind=finding.kind,
                    first_detected_run=run,
                    detected_at=now,
                    **values,
                )
            )
        else:
            for name, value in values.items():
                setattr(discrepancy, name, value)
            refreshed.append(discrepancy)
    Discrepancy.objects.bulk_update(refreshed, REFRESHED_FIELDS, batch_size=BATCH)
    # ignore_conflicts: a concurrent worker may have opened the same one a moment ago.
    Discrepancy.objects.bulk_create(new, batch_size=BATCH, ignore_conflicts=True)
    for discrepancy in new:
        result.opened[discrepancy.kind] = result.opened.get(discrepancy.kind, 0) + 1

    if flag:
        result.flagged = flag_registrations(
            sorted({f.registration_id for f in found.values() if f.registration_id}), run=run
        )
    return result


def flag_registrations(registration_ids: list[int], *, run) -> int:
    """Registered → flagged, with an audit row each (see ``sql._FLAG``)."""
    flagged = 0
    for batch in _batched(registration_ids):
        rows = list(
            Registration.objects.filter(pk__in=batch, status=Registration.Status.REGISTERED)
            .order_by("pk")
            .values_list("pk", "registration_number", "msisdn")
        )
        if not rows:
            continue
        Registration.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(
            status=Registration.Status.FLAGGED
        )
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor_label="system",
                action=AuditAction.REGISTRATION_FLAG,
                target_type="subscribers.registration",
                target_id=str(pk),
                target_repr=f"{number} {msisdn}"[:200],
                before={"status": "registered"},
                after={"status": "flagged", "reconciliation_run": run.pk},
            )
            for pk, number, msisdn in rows
        )
        flagged += len(rows)
    return flagged


def process_msisdn_chunk(*, chunk, run, adapter, now) -> ChunkResult:
    roids = our_roids()
    clock = clock_for(now)
    lo, hi = chunk.key_from, chunk.key_to
    portal: dict[str, list[rules.PortalRow]] = {}
    if chunk.scope == chunk.Scope.ALL:
        for row in _portal_rows(compared_registrations().filter(_key_range("msisdn", lo, hi))):
            portal.setdefault(row.msisdn, []).append(row)
        operator = {record.msisdn: record for record in adapter.iter_range(lo, hi)}
        msisdns = portal.keys() | operator.keys()
        scope_q = _key_range("msisdn", lo, hi)
    else:
        msisdns = changed_msisdns(adapter=adapter, since=run.since, lo=lo, hi=hi, now=now)
        for batch in _batched(sorted(msisdns)):
            for row in _portal_rows(compared_registrations().filter(msisdn__in=batch)):
                portal.setdefault(row.msisdn, []).append(row)
        operator = adapter.lookup(msisdns)
        scope_q = ("msisdn", msisdns)
    findings: list[rules.Finding] = []
    ended: dict[int, object] = {}
    for msisdn in sorted(msisdns):
        rows = sorted(portal.get(msisdn, []), key=lambda r: (r.registered_at, r.registration_id))
        found, gone = rules.compare_number(rows, operator.get(msisdn), our_roids=roids, clock=clock)
        findings.extend(found)
        ended.update(gone)
    end_lives(ended)
    result = _apply(
        findings,
        run=run,
        now=now,
        scope=scope_q,
        kinds=rules.MSISDN_KINDS,
        flag=True,
        per_life=True,
    )
    result.rows = sum(len(rows) for rows in portal.values()) + len(operator)
    if chunk.scope == chunk.Scope.CHANGED:
        result.msisdns = len(msisdns)
    return result


def _registrations_of(msisdns: Iterable[str]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for batch in _batched(sorted(set(msisdns))):
        for pk, msisdn, outlet_id in (
            Registration.objects.current_lives()
            .filter(msisdn__in=batch)
            .values_list("pk", "msisdn", "outlet_id")
        ):
            found[msisdn] = (pk, outlet_id)
    return found


def _groups_in_range(adapter, lo, hi) -> Iterator[list]:
    group: list = []
    for record in adapter.iter_active_by_digest(lo, hi):
        if group and record.id_number_digest != group[0].id_number_digest:
            yield group
            group = []
        group.append(record)
    if group:
        yield group


def process_id_group_chunk(*, chunk, run, adapter, now) -> ChunkResult:
    roids = our_roids()
    lo, hi = chunk.key_from, chunk.key_to
    if chunk.scope == chunk.Scope.ALL:
        groups = _groups_in_range(adapter, lo, hi)
        scope_q = _key_range("id_digest", lo, hi)
    else:
        changed = changed_msisdns(adapter=adapter, since=run.since)
        in_range = _key_range("id_digest", lo, hi)
        digests = {
            record.id_number_digest
            for record in adapter.iter_range(None, None, since=run.since)
            if record.id_number_digest
            and (lo is None or record.id_number_digest >= lo)
            and (hi is None or record.id_number_digest < hi)
        }
        for digest, members in Discrepancy.objects.filter(
            in_range, status=Discrepancy.Status.OPEN, kind=rules.ID_OVER_LIMIT
        ).values_list("id_digest", "id_group"):
            if changed.intersection(members or []):
                digests.add(digest)
        groups = iter(adapter.active_by_id_digest(digests).values())
        scope_q = ("id_digest", digests)
    findings: list[rules.Finding] = []
    rows = 0
    for group in groups:
        rows += len(group)
        if run.id_cap is None or len(group) <= run.id_cap:
            continue
        registered = _registrations_of(record.msisdn for record in group)
        findings.extend(
            rules.over_limit(group, cap=run.id_cap, registrations=registered, our_roids=roids)
        )
    result = _apply(findings, run=run, now=now, scope=scope_q, kinds=rules.GROUP_KINDS, flag=False)
    result.rows = rows
    return result


def flag_over_limit(*, run, now) -> int:
    """At the end of a run: flag the registrations of the over-limit numbers it saw."""
    ids = Discrepancy.objects.filter(
        kind=rules.ID_OVER_LIMIT,
        status=Discrepancy.Status.OPEN,
        last_seen_run=run,
        registration__isnull=False,
    ).values_list("registration_id", flat=True)
    return flag_registrations(sorted(set(ids)), run=run)
