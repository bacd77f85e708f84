"""Keeping the summary tables up to date: set-based, incremental, safe to run at any time.

Every ``REPORTS_REFRESH_SECONDS`` (Celery beat) and on demand, one transaction that holds the
``SummaryState`` row lock:

1. finds what changed since the watermark — registrations by ``updated_at`` (every write of
   the portal stamps it, as incremental reconciliation also relies on), discrepancies by
   ``detected_at``/``resolved_at``, privacy states by ``updated_at`` (a deactivated number no
   longer counts against the cap);
2. recomputes the local days those changes touch, with one
   ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` per table (the same statement on
   PostgreSQL and SQLite ≥ 3.24), stamping each row with the refresh's generation; rows of
   those days left with an older generation no longer exist and are deleted;
3. recomputes the flagged-ID rows of the ID digests that changed (window counts per digest
   and per digest × outlet);
4. moves the watermark to the refresh's start minus ``REPORTS_WATERMARK_MARGIN_SECONDS``.

The first refresh, a change of the cap in force or of the repeated-ID threshold, a change of
what the figures count (``DEFINITION_VERSION``), and the nightly run (``full=True``) rebuild
everything — the same statements without a day filter.
"""

# Table names and placeholders are ours; every value goes through query parameters.
# ruff: noqa: S608

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min, Q
from django.utils import timezone

from compliance.models import Discrepancy, DiscrepancyOutcome, ReconciliationRun
from compliance.reconciliation.rules import OUTLET_ACCOUNTABLE_KINDS
from privacy.models import RegistrationPrivacy
from subscribers.models import Registration
from subscribers.selectors import NoPolicyInForce, policy_in_force

from .daysql import batches as _batches
from .daysql import day_ranges_sql as _ranges_sql
from .daysql import local_day_sql as _local_day
from .daysql import local_days as _days
from .daysql import placeholders as _in
from .models import DailyDiscrepancyStats, DailyOutletStats, FlaggedIdRegistration, SummaryState
from .periods import day_ranges

ACCOUNTABLE_KINDS = sorted(OUTLET_ACCOUNTABLE_KINDS)
# Beyond this many runs of consecutive days (or ID digests), rebuilding the table is cheaper.
MAX_INCREMENTAL_RANGES = 200
MAX_INCREMENTAL_DIGESTS = 50_000
NO_CAP = 2**31 - 1
# What the summary tables count, as a number: bump it in the change that alters what a figure
# counts (a status left out or added, a new column, another day rule), so that summaries built
# under the old definition are rebuilt in full by the next refresh after the deploy — the
# periodic one or the command — without anyone running ``--full`` (docs/reports.md).
# ``tests/reports/test_summary_definition.py`` fails when the refresh's statements change while
# this number stays.
#   1  the first tables
#   2  registrations the population registry refused are not counted; those awaiting its
#      verification are counted and shown apart (``awaiting``)
#   3  a kind found again on the same registration after it was resolved is not a new
#      discrepancy: counted once, on its first detection's day, open while the latest one is
DEFINITION_VERSION = 3


@dataclass(frozen=True)
class RefreshOutcome:
    mode: str  # "full" or "incremental"
    generation: int
    as_of: datetime
    registration_days: int
    discrepancy_days: int
    digests: int
    duration_ms: int
    # Why a full rebuild: "requested", "first", "definition" (what the figures count changed),
    # "parameters" (the cap in force, the repeated-ID threshold...); "" for an incremental one.
    reason: str = ""


def current_parameters() -> dict:
    """What the derived flags depend on; a change means a full rebuild."""
    try:
        cap = policy_in_force().max_numbers_per_id
    except NoPolicyInForce:
        cap = None
    return {
        "cap": cap,
        "repeated_min": settings.REPORTS_REPEATED_ID_MIN,
        "kinds": ACCOUNTABLE_KINDS,
        "time_zone": settings.TIME_ZONE,
    }


def summary_state() -> SummaryState | None:
    return SummaryState.objects.filter(pk=SummaryState.SINGLETON).first()


# --- registrations per day × outlet × ID type ------------------------------------------------

REG = DailyOutletStats._meta.db_table
DISC = DailyDiscrepancyStats._meta.db_table
FLAG = FlaggedIdRegistration._meta.db_table
R = Registration._meta.db_table
D = Discrepancy._meta.db_table
OUTCOME = DiscrepancyOutcome._meta.db_table
REFOUND = DiscrepancyOutcome.Outcome.DISMISSED_BEFORE
P = RegistrationPrivacy._meta.db_table


def _refresh_registrations(days: list[date] | None, generation: int) -> None:
    day_sql, day_params = _local_day("r.registered_at")
    where, where_params = _ranges_sql("r.registered_at", days)
    sql = f"""
        INSERT INTO {REG} (day, outlet_id, id_type, registrations, blocked, flagged,
                           awaiting, with_discrepancy, generation)
        SELECT {day_sql}, r.outlet_id, r.id_type, COUNT(*),
               SUM(CASE WHEN r.status = 'blocked' THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.status = 'flagged' THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.status = 'awaiting' THEN 1 ELSE 0 END),
               SUM(CASE WHEN EXISTS (
                   SELECT 1 FROM {D} d
                   WHERE d.registration_id = r.id AND d.status = 'open'
                     AND d.kind IN ({_in(ACCOUNTABLE_KINDS)})
               ) THEN 1 ELSE 0 END),
               %s
        FROM {R} r
        WHERE {where} AND r.status <> 'refused'
        GROUP BY 1, 2, 3
        ON CONFLICT (day, outlet_id, id_type) DO UPDATE SET
            registrations = excluded.registrations, blocked = excluded.blocked,
            flagged = excluded.flagged, awaiting = excluded.awaiting,
            with_discrepancy = excluded.with_discrepancy,
            generation = excluded.generation
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*day_params, *ACCOUNTABLE_KINDS, generation, *where_params])
    _delete_stale(REG, days, generation)


def _refresh_discrepancies(days: list[date] | None, generation: int) -> None:
    day_sql, day_params = _local_day("d.detected_at")
    where, where_params = _ranges_sql("d.detected_at", days)
    sql = f"""
        INSERT INTO {DISC} (day, outlet_id, kind, detected, still_open, generation)
        SELECT {day_sql}, d.outlet_id, d.kind, COUNT(*),
               SUM(CASE WHEN d.status = 'open' OR EXISTS (
                   SELECT 1 FROM {D} later
                   WHERE later.registration_id = d.registration_id AND later.kind = d.kind
                     AND later.id > d.id AND later.status = 'open'
               ) THEN 1 ELSE 0 END), %s
        FROM {D} d
        WHERE d.outlet_id IS NOT NULL AND {where}
          -- A finding a reviewer already dismissed, found again by a later run, is not a new
          -- discrepancy (reports.rows.discrepancy_rows excludes the same rows).
          AND NOT EXISTS (SELECT 1 FROM {OUTCOME} o
                          WHERE o.discrepancy_id = d.id AND o.outcome = %s)
          -- Nor is any kind found again on the same registration (the same life of the
          -- number) after it was resolved: it counts once, on the day it was first detected,
          -- open while its latest finding is (CONTRACT, "Discrepancy kinds").
          AND NOT EXISTS (SELECT 1 FROM {D} earlier
                          WHERE earlier.registration_id = d.registration_id
                            AND earlier.kind = d.kind AND earlier.id < d.id)
        GROUP BY 1, 2, 3
        ON CONFLICT (day, outlet_id, kind) DO UPDATE SET
            detected = excluded.detected, still_open = excluded.still_open,
            generation = excluded.generation
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*day_params, generation, *where_params, REFOUND])
    _delete_stale(DISC, days, generation)


def _delete_stale(table: str, days: list[date] | None, generation: int) -> None:
    with connection.cursor() as cursor:
        if days is None:
            cursor.execute(f"DELETE FROM {table} WHERE generation <> %s", [generation])
            return
        for batch in _batches(days):
            cursor.execute(
                f"DELETE FROM {table} WHERE generation <> %s AND day IN ({_in(batch)})",
                [generation, *(connection.ops.adapt_datefield_value(d) for d in batch)],
            )


# --- flagged IDs: over the cap, repeated at one outlet ---------------------------------------


def _refresh_flags(digests: list[str] | None, *, cap: int | None, repeated_min: int) -> None:
    """Replace the flagged rows of ``digests`` (every digest when None)."""
    day_sql, day_params = _local_day("r.registered_at")
    select = f"""
        INSERT INTO {FLAG} (registration_id, outlet_id, day, id_digest, over_cap,
                            repeated_at_outlet)
        SELECT x.id, x.outlet_id, x.day, x.digest, (x.active = 1 AND x.held > %s),
               (x.at_outlet >= %s)
        FROM (
            SELECT r.id, r.outlet_id, {day_sql} AS day, r.id_number_digest AS digest,
                   CASE WHEN r.status NOT IN ('blocked', 'refused') AND p.deactivated_at IS NULL
                        THEN 1 ELSE 0 END AS active,
                   SUM(CASE WHEN r.status NOT IN ('blocked', 'refused')
                                 AND p.deactivated_at IS NULL
                            THEN 1 ELSE 0 END) OVER (PARTITION BY r.id_number_digest) AS held,
                   COUNT(*) OVER (PARTITION BY r.id_number_digest, r.outlet_id) AS at_outlet
            FROM {R} r
            LEFT JOIN {P} p ON p.registration_id = r.id
            WHERE {{where}}
        ) x
        WHERE (x.active = 1 AND x.held > %s) OR x.at_outlet >= %s
    """
    cap_value = cap if cap is not None else NO_CAP
    head = [cap_value, repeated_min, *day_params]
    tail = [cap_value, repeated_min]
    with connection.cursor() as cursor:
        if digests is None:
            cursor.execute(f"DELETE FROM {FLAG}")
            cursor.execute(select.format(where="r.id_number_digest <> ''"), [*head, *tail])
            return
        for batch in _batches(digests):
            cursor.execute(f"DELETE FROM {FLAG} WHERE id_digest IN ({_in(batch)})", batch)
            cursor.execute(
                select.format(where=f"r.id_number_digest IN ({_in(batch)})"),
                [*head, *batch, *tail],
            )


# --- what changed ----------------------------------------------------------------------------


def _changed_discrepancies(since: datetime):
    return Discrepancy.objects.filter(Q(detected_at__gte=since) | Q(resolved_at__gte=since))


def _changed_registration_days(since: datetime, discrepancies_since: datetime) -> set[date]:
    changed = Registration.objects.filter(updated_at__gte=since)
    # A registration's "has an open discrepancy" changes when one is opened or resolved.
    flagged = Registration.objects.filter(
        pk__in=_changed_discrepancies(discrepancies_since)
        .filter(registration__isnull=False)
        .values("registration_id")
    )
    return _days(changed, "registered_at") | _days(flagged, "registered_at")


def _changed_discrepancy_days(since: datetime) -> set[date]:
    changed = _changed_discrepancies(since).filter(outlet__isnull=False)
    # A finding found again on the same registration is counted on its first detection's day,
    # open while the latest one is: that day changes with it.
    first = Discrepancy.objects.filter(
        outlet__isnull=False,
        registration__in=changed.filter(registration__isnull=False).values("registration_id"),
    )
    return _days(changed, "detected_at") | _days(first, "detected_at")


def _changed_digests(since: datetime) -> set[str] | None:
    """ID digests whose flags may have changed since ``since``; None when there are so many
    (a bulk import) that rebuilding the flags is cheaper — never more than
    MAX_INCREMENTAL_DIGESTS held in memory."""
    limit = MAX_INCREMENTAL_DIGESTS + 1
    queries = [
        Registration.objects.filter(updated_at__gte=since)
        .exclude(id_number_digest="")
        .order_by()
        .values_list("id_number_digest", flat=True)
        .distinct(),
        # A number deactivated (or active again) at the operator leaves (or rejoins) the cap.
        Registration.objects.filter(privacy__updated_at__gte=since)
        .exclude(id_number_digest="")
        .order_by()
        .values_list("id_number_digest", flat=True)
        .distinct(),
        # The digest a changed registration was flagged under (anonymisation empties it).
        FlaggedIdRegistration.objects.filter(registration__updated_at__gte=since)
        .order_by()
        .values_list("id_digest", flat=True)
        .distinct(),
    ]
    digests: set[str] = set()
    for query in queries:
        found = list(query[:limit])
        if len(found) == limit:
            return None
        digests.update(found)
        if len(digests) > MAX_INCREMENTAL_DIGESTS:
            return None
    return digests


def _discrepancies_watermark(since: datetime) -> datetime:
    """A reconciliation run stamps what it finds with its chunk's start and commits later: while
    a run is active, look back to its start."""
    started = ReconciliationRun.objects.filter(
        status__in=ReconciliationRun.ACTIVE_STATUSES, started_at__isnull=False
    ).aggregate(first=Min("started_at"))["first"]
    if started is None:
        return since
    return min(since, started - timedelta(seconds=settings.REPORTS_WATERMARK_MARGIN_SECONDS))


# --- the refresh -----------------------------------------------------------------------------


def summaries_refresh(*, full: bool = False) -> RefreshOutcome:
    """Bring the summary tables up to date (see the module's docstring); returns what it did.

    Safe to run at any time and twice at once: refreshes take the state row's lock in turn,
    and each one recomputes from the source tables rather than adding deltas.
    """
    started = timezone.now()
    clock = time.perf_counter()
    SummaryState.objects.get_or_create(pk=SummaryState.SINGLETON)
    with transaction.atomic():
        state = SummaryState.objects.select_for_update().get(pk=SummaryState.SINGLETON)
        parameters = current_parameters()
        generation = state.generation + 1
        reason = _full_reason(state, parameters, requested=full)
        full = bool(reason)
        flag_args = {"cap": parameters["cap"], "repeated_min": parameters["repeated_min"]}
        if full:
            reg_days = disc_days = None
            digests = None
        else:
            since = state.watermark
            reg_days = sorted(_changed_registration_days(since, _discrepancies_watermark(since)))
            disc_days = sorted(_changed_discrepancy_days(_discrepancies_watermark(since)))
            changed = _changed_digests(since)
            digests = None if changed is None else sorted(changed)
            if len(day_ranges(reg_days)) > MAX_INCREMENTAL_RANGES:
                reg_days = None
            if len(day_ranges(disc_days)) > MAX_INCREMENTAL_RANGES:
                disc_days = None
        if reg_days != []:
            _refresh_registrations(reg_days, generation)
        if disc_days != []:
            _refresh_discrepancies(disc_days, generation)
        if digests != []:
            _refresh_flags(digests, **flag_args)
        duration_ms = int((time.perf_counter() - clock) * 1000)
        state.generation = generation
        state.watermark = started - timedelta(seconds=settings.REPORTS_WATERMARK_MARGIN_SECONDS)
        state.refreshed_at = started
        state.parameters = parameters
        state.definition_version = DEFINITION_VERSION
        state.last_mode = "full" if full else "incremental"
        state.last_days = len(reg_days) if reg_days is not None else 0
        state.last_duration_ms = duration_ms
        if full:
            state.full_refreshed_at = started
        state.save()
    return RefreshOutcome(
        mode=state.last_mode,
        generation=generation,
        as_of=started,
        registration_days=-1 if reg_days is None else len(reg_days),
        discrepancy_days=-1 if disc_days is None else len(disc_days),
        digests=-1 if digests is None else len(digests),
        duration_ms=duration_ms,
        reason=reason,
    )


def _full_reason(state: SummaryState, parameters: dict, *, requested: bool) -> str:
    """Why this refresh must rebuild everything ("" when an incremental one will do)."""
    if requested:
        return "requested"
    if state.watermark is None:
        return "first"
    if state.definition_version != DEFINITION_VERSION:
        return "definition"
    if state.parameters != parameters:
        return "parameters"
    return ""


def definition_outdated(state: SummaryState | None = None) -> bool:
    """The summary tables were built under another definition of the figures than this code's
    (a deploy changed what they count): the next refresh rebuilds them."""
    state = state if state is not None else summary_state()
    return (
        state is not None
        and state.watermark is not None
        and (state.definition_version != DEFINITION_VERSION)
    )
