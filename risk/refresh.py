"""Keeping the signal rows up to date: set-based, incremental, safe to run at any time.

Like the report summary tables (``reports.summary``), one transaction holding the ``RiskState``
row lock:

1. **signals of one registration** (``pre_activation``, ``kk_equals_nik``, ``odd_hours``,
   ``too_fast``, ``registry_refused``, ``holder_dispute``, ``birth_date_contradiction``): the
   local days touched since the watermark — registrations by ``updated_at``, pre-activation
   findings by ``detected_at``/``resolved_at`` and their reviewers' outcomes, holder disputes by
   ``queued_at``/``decided_at`` — are recomputed with one ``DELETE`` and one
   ``INSERT … SELECT`` over those days (a window function gives each registration the time since
   the clerk's previous one);
2. **signals of an ID or KK number** (``nik_reuse``, ``id_spread``, ``kk_crowded``): the rows of
   the NIK and KK digests of the registrations changed since the watermark are replaced, in
   batches, by statements that join each number's registrations within the time window;
3. **the per-month figures** (``MonthlyOutletRisk``) of the months those rows changed in, and of
   the months of the registrations changed since the report summary tables were last read
   (their registration counts come from ``reports``' per-day table), are recomputed with one
   ``DELETE`` and one ``INSERT … SELECT``;
4. the outlets above their baseline over the last ``RISK_RECENT_DAYS`` days are recomputed
   (``RecentOutletRisk``) from the figures (``risk.figures``).

The first refresh, a change of a signal's setting and the nightly run (``full=True``) rebuild
every row with the same statements without a filter. PostgreSQL only (the signal rows are
written with window functions, ``unnest`` and JSONB containment); the figures read them on any
database.
"""

# Table names and placeholders are ours; every value goes through query parameters.
# ruff: noqa: S608

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from compliance.models import Discrepancy, DiscrepancyOutcome, ReviewItem
from reports.daysql import batches as _batches
from reports.daysql import day_ranges_sql as _ranges_sql
from reports.daysql import local_day_sql as _local_day
from reports.daysql import local_days as _days
from reports.daysql import placeholders as _in
from reports.models import DailyOutletStats
from reports.periods import day_ranges
from reports.summary import summary_state
from subscribers.models import Registration

from . import signals
from .models import MonthlyOutletRisk, RegistrationSignal, RiskState

MAX_INCREMENTAL_RANGES = 200
MAX_INCREMENTAL_DIGESTS = 50_000

F = RegistrationSignal._meta.db_table
R = Registration._meta.db_table
M = MonthlyOutletRisk._meta.db_table
DAILY = DailyOutletStats._meta.db_table
NIK, KK = "nik", "kk"
DIGEST_COLUMNS = {NIK: "id_number_digest", KK: "kk_number_digest"}
DIGEST_SIGNALS = {NIK: ("nik_reuse", "id_spread"), KK: ("id_spread", "kk_crowded")}
DISMISSED = (DiscrepancyOutcome.Outcome.DISMISSED, DiscrepancyOutcome.Outcome.DISMISSED_BEFORE)


@dataclass(frozen=True)
class RiskRefreshOutcome:
    mode: str  # "full", "incremental", or "skipped" (not PostgreSQL)
    as_of: datetime
    days: int  # local days recomputed (-1: all)
    digests: int  # ID and KK numbers recomputed (-1: all)
    rows: int  # signal rows after the refresh
    duration_ms: int


def risk_state() -> RiskState | None:
    return RiskState.objects.filter(pk=RiskState.SINGLETON).first()


def _sql(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _pre_activated_ids():
    """Registrations with a pre-activation finding no reviewer dismissed."""
    dismissed = DiscrepancyOutcome.objects.filter(outcome__in=DISMISSED).values("discrepancy_id")
    return (
        Discrepancy.objects.filter(kind=signals.PRE_ACTIVATION_KIND, registration__isnull=False)
        .exclude(pk__in=dismissed)
        .order_by()  # a plain set: PostgreSQL hashes it once
        .values("registration_id")
    )


def _disputed_ids():
    """Registrations whose holder disputes them (the dispute not dismissed)."""
    return (
        ReviewItem.objects.filter(signals.holder_dispute_q(), registration__isnull=False)
        .exclude(decision=ReviewItem.Decision.DISMISS)
        .order_by()  # a plain set: PostgreSQL hashes it once
        .values("registration_id")
    )


# --- signals of one registration -------------------------------------------------------------


def _odd_hours_sql() -> str:
    """The local hour within [from, to), across midnight when to < from: one time-zone
    conversion a registration (``(hour - from) mod 24 < (to - from) mod 24``)."""
    start, end = int(settings.RISK_ODD_HOUR_FROM), int(settings.RISK_ODD_HOUR_TO)
    return (
        f"(mod(EXTRACT(HOUR FROM r.registered_at AT TIME ZONE %s)::int - {start} + 24, 24) "
        f"< {(end - start) % 24})"
    )


def _insert_local(days: list[date] | None) -> None:
    """Write the per-registration signals of the registrations of ``days`` (every day: None)."""
    day_sql, day_params = _local_day("x.registered_at")
    gap = timedelta(seconds=settings.RISK_MIN_SECONDS_BETWEEN)
    where, where_params = _ranges_sql("x.registered_at", days)
    # The window function needs the clerk's previous registration, which may precede the
    # first day recomputed: read a little more, write only the days asked for.
    if days is None:
        wide, wide_params = "1 = 1", []
    else:
        wide, wide_params = _ranges_sql("r.registered_at", days)
        wide = wide.replace("r.registered_at >= %s", "r.registered_at >= %s::timestamptz - %s")
        wide_params = [
            value
            for index, param in enumerate(wide_params)
            for value in ((param, gap) if index % 2 == 0 else (param,))
        ]
    pre_sql, pre_params = _sql(_pre_activated_ids())
    dispute_sql, dispute_params = _sql(_disputed_ids())
    # The facts of one registration are packed in one integer (one bit a signal) while the
    # table is read, so the window's sort carries four narrow columns, not the registration;
    # only the registrations with a bit set or a short gap reach the rows written.
    sql = f"""
        INSERT INTO {F} (registration_id, outlet_id, day, signal, via, digest)
        SELECT x.id, x.outlet_id, {day_sql}, s.code, '', ''
        FROM (
            SELECT y.id, y.outlet_id, y.registered_at, y.bits,
                   LAG(y.registered_at) OVER (
                       PARTITION BY y.outlet_id, y.clerk_id ORDER BY y.registered_at, y.id
                   ) AS previous_at
            FROM (
                SELECT r.id, r.outlet_id, r.clerk_id, r.registered_at,
                       CASE WHEN r.id IN ({pre_sql}) THEN 1 ELSE 0 END
                       | CASE WHEN r.kk_number_digest <> ''
                                   AND r.kk_number_digest = r.id_number_digest THEN 2 ELSE 0 END
                       | CASE WHEN {_odd_hours_sql()} THEN 4 ELSE 0 END
                       | CASE WHEN r.status = %s THEN 8 ELSE 0 END
                       | CASE WHEN r.id IN ({dispute_sql}) THEN 16 ELSE 0 END
                       | CASE WHEN r.warnings @> %s::jsonb THEN 32 ELSE 0 END AS bits
                FROM {R} r
                WHERE {wide}
                OFFSET 0  -- computed while reading, before the sort
            ) y
        ) x
        CROSS JOIN LATERAL unnest(array_remove(ARRAY[
            CASE WHEN x.bits & 1 <> 0 THEN 'pre_activation' END,
            CASE WHEN x.bits & 2 <> 0 THEN 'kk_equals_nik' END,
            CASE WHEN x.bits & 4 <> 0 THEN 'odd_hours' END,
            CASE WHEN x.registered_at - x.previous_at < %s THEN 'too_fast' END,
            CASE WHEN x.bits & 8 <> 0 THEN 'registry_refused' END,
            CASE WHEN x.bits & 16 <> 0 THEN 'holder_dispute' END,
            CASE WHEN x.bits & 32 <> 0 THEN 'birth_date_contradiction' END
        ]::varchar[], NULL)) AS s(code)
        WHERE ({where}) AND (x.bits <> 0 OR x.registered_at - x.previous_at < %s)
        -- A registration moved to another day keeps one row, on its day now.
        ON CONFLICT (registration_id, signal, via) DO UPDATE
            SET day = excluded.day, outlet_id = excluded.outlet_id
    """
    params = [
        *day_params,
        *pre_params,
        settings.TIME_ZONE,
        Registration.Status.REFUSED,
        *dispute_params,
        f'[{{"code": "{signals.BIRTH_DATE_WARNING}"}}]',
        *wide_params,
        gap,
        *where_params,
        gap,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refresh_local(days: list[date] | None) -> None:
    codes = list(signals.LOCAL_CODES)
    with connection.cursor() as cursor:
        if days is None:
            cursor.execute(f"DELETE FROM {F} WHERE signal IN ({_in(codes)})", codes)
        else:
            for batch in _batches(days):
                cursor.execute(
                    f"DELETE FROM {F} WHERE signal IN ({_in(codes)}) AND day IN ({_in(batch)})",
                    [*codes, *(connection.ops.adapt_datefield_value(d) for d in batch)],
                )
    _insert_local(days)


# --- signals of an ID or KK number -----------------------------------------------------------


def _insert_digest(via: str, digests: list[str] | None) -> set[date]:
    """Write ``via``'s per-number signals for the registrations of ``digests`` (None: every
    number that could hold one); returns the days of the rows written (none for every number).

    Each number's registrations are read once (``c``); within them, a self-join over the time
    window counts registrations and outlets (``COUNT(DISTINCT …)`` has no window-function
    form), and for a KK the different NIKs it was given with (``kk_crowded``)."""
    column = DIGEST_COLUMNS[via]
    day_sql, day_params = _local_day("p.registered_at")
    window = timedelta(hours=settings.RISK_WINDOW_HOURS)
    reuse_min, spread_min = settings.RISK_NIK_REUSE_MIN, settings.RISK_SPREAD_OUTLETS_MIN
    kk_max = settings.RISK_KK_MAX_NIKS
    if digests is None:
        # Only numbers that could hold a signal: registered often enough for the least of
        # their signals' thresholds (a plain count: one hash aggregate, no sort; the exact
        # figures are computed below).
        least = min(reuse_min, spread_min) if via == NIK else min(spread_min, kk_max + 1)
        numbers = (
            f"SELECT {column} FROM {R} WHERE {column} <> '' GROUP BY {column} HAVING COUNT(*) >= %s"
        )
        # The NIKs are indexed: as an array, their registrations are fetched by the index
        # (the planner cannot tell how few numbers pass and would read the whole table).
        if via == NIK:
            candidates = f"r.{column} = ANY(ARRAY({numbers}))"
        else:
            candidates = f"r.{column} IN ({numbers})"
        candidate_params = [least]
    else:
        candidates, candidate_params = f"r.{column} IN ({_in(digests)})", list(digests)
    reuse = "CASE WHEN p.n >= %s THEN 'nik_reuse' END" if via == NIK else "NULL"
    reuse_params = [reuse_min] if via == NIK else []
    if via == KK:
        crowded_day_sql, crowded_day_params = _local_day("c.registered_at")
        crowded = f"""
            UNION ALL
            SELECT c.id, c.outlet_id, {crowded_day_sql},
                   'kk_crowded', %s, c.d
            FROM c
            WHERE c.d IN (
                SELECT d FROM c WHERE nik <> '' GROUP BY d HAVING COUNT(DISTINCT nik) > %s
            )
        """
        crowded_params = [*crowded_day_params, via, kk_max]
    else:
        crowded, crowded_params = "", []
    sql = f"""
        WITH c AS MATERIALIZED (
            SELECT r.id, r.outlet_id, r.registered_at, r.{column} AS d,
                   r.id_number_digest AS nik
            FROM {R} r
            WHERE r.{column} <> '' AND {candidates}
        ), p AS (
            SELECT a.id, a.outlet_id, a.registered_at, a.d, COUNT(*) AS n,
                   COUNT(DISTINCT b.outlet_id) AS outlets
            FROM c a
            JOIN c b ON b.d = a.d
                    AND b.registered_at >= a.registered_at - %s
                    AND b.registered_at <= a.registered_at + %s
            GROUP BY a.id, a.outlet_id, a.registered_at, a.d
        )
        INSERT INTO {F} (registration_id, outlet_id, day, signal, via, digest)
        SELECT p.id, p.outlet_id, {day_sql}, s.code, %s, p.d
        FROM p
        CROSS JOIN LATERAL unnest(array_remove(ARRAY[
            {reuse},
            CASE WHEN p.outlets >= %s THEN 'id_spread' END
        ]::varchar[], NULL)) AS s(code)
        {crowded}
        ON CONFLICT (registration_id, signal, via) DO UPDATE
            SET day = excluded.day, outlet_id = excluded.outlet_id
        {"" if digests is None else "RETURNING day"}
    """
    params = [
        *candidate_params,
        window,
        window,
        *day_params,
        via,
        *reuse_params,
        spread_min,
        *crowded_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return set() if digests is None else {day for (day,) in cursor.fetchall()}


def _refresh_digests(via: str, digests: list[str] | None) -> set[date]:
    """Replace ``via``'s per-number rows of ``digests`` (every number: None); returns the days
    of the rows deleted or written (none when rebuilding every row)."""
    codes = list(DIGEST_SIGNALS[via])
    touched: set[date] = set()
    with connection.cursor() as cursor:
        if digests is None:
            cursor.execute(
                f"DELETE FROM {F} WHERE via = %s AND signal IN ({_in(codes)})", [via, *codes]
            )
            _insert_digest(via, None)
            return touched
        for batch in _batches(digests):
            cursor.execute(
                f"DELETE FROM {F} WHERE digest IN ({_in(batch)}) AND via = %s "
                f"AND signal IN ({_in(codes)}) RETURNING day",
                [*batch, via, *codes],
            )
            touched.update(day for (day,) in cursor.fetchall())
            touched |= _insert_digest(via, batch)
    return touched


# --- the per-month figures -------------------------------------------------------------------


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _month_ranges_sql(column: str, months: list[date] | None) -> tuple[str, list]:
    """``column`` (a date) within the months: runs of consecutive months, one range each."""
    if months is None:
        return "1 = 1", []
    parts, params = [], []
    months = sorted(set(months))
    start = end = months[0]
    for month in [*months[1:], None]:
        if month is not None and month == next_month(end):
            end = month
            continue
        parts.append(f"({column} >= %s AND {column} < %s)")
        params += [start, next_month(end)]
        if month is not None:
            start = end = month
    return "(" + " OR ".join(parts) + ")", params


def _refresh_months(months: list[date] | None) -> None:
    """Recompute the ``MonthlyOutletRisk`` rows of ``months`` (every month: None): the
    registrations from the reports' per-day table, the signal counts from the signal rows
    (distinct registrations: a registration whose NIK and KK both make ``id_spread`` hold has
    two rows, and counts once)."""
    codes = list(signals.CODES)
    columns = ", ".join(codes)
    daily_where, daily_params = _month_ranges_sql("d.day", months)
    signal_where, signal_params = _month_ranges_sql("s.day", months)
    delete_where, delete_params = _month_ranges_sql("month", months)
    # The first day of a date's month, without a time-zone conversion.
    month_sql = "({0} - (EXTRACT(DAY FROM {0})::int - 1))"
    sql = f"""
        INSERT INTO {M} (outlet_id, month, registrations, {columns})
        SELECT outlet_id, month, SUM(registrations), {", ".join(f"SUM({c})" for c in codes)}
        FROM (
            SELECT d.outlet_id, {month_sql.format("d.day")} AS month,
                   SUM(d.registrations) AS registrations, {", ".join(f"0 AS {c}" for c in codes)}
            FROM {DAILY} d
            WHERE {daily_where}
            GROUP BY 1, 2
            UNION ALL
            SELECT s.outlet_id, {month_sql.format("s.day")}, 0,
                   {
        ", ".join("COUNT(DISTINCT s.registration_id) FILTER (WHERE s.signal = %s)" for _ in codes)
    }
            FROM {F} s
            WHERE {signal_where}
            GROUP BY 1, 2
        ) u
        GROUP BY outlet_id, month
    """
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {M} WHERE {delete_where}", delete_params)
        cursor.execute(sql, [*daily_params, *codes, *signal_params])


# --- what changed ----------------------------------------------------------------------------


def _changed_days(since: datetime) -> set[date]:
    changed = Registration.objects.filter(updated_at__gte=since)
    findings = Discrepancy.objects.filter(
        Q(detected_at__gte=since) | Q(resolved_at__gte=since),
        kind=signals.PRE_ACTIVATION_KIND,
        registration__isnull=False,
    ).values("registration_id")
    settled = DiscrepancyOutcome.objects.filter(
        created_at__gte=since, kind=signals.PRE_ACTIVATION_KIND
    ).values("discrepancy__registration_id")
    disputes = ReviewItem.objects.filter(
        Q(queued_at__gte=since) | Q(decided_at__gte=since),
        signals.holder_dispute_q(),
        registration__isnull=False,
    ).values("registration_id")
    touched = Registration.objects.filter(
        Q(pk__in=findings) | Q(pk__in=settled) | Q(pk__in=disputes)
    )
    return _days(changed, "registered_at") | _days(touched, "registered_at")


def _changed_months(since: datetime) -> set[date]:
    """The months whose registration counts may have changed since ``since`` (the days of the
    registrations changed since), and the months a changed registration's signal rows were in
    before (a registration moved to another month takes its rows with it)."""
    changed = Registration.objects.filter(updated_at__gte=since)
    before = RegistrationSignal.objects.filter(registration__updated_at__gte=since)
    days = _days(changed, "registered_at") | set(
        before.order_by().values_list("day", flat=True).distinct()
    )
    return {month_of(day) for day in days}


def _changed_digests(since: datetime, via: str) -> list[str] | None:
    """The ``via`` numbers whose signals may have changed (None: so many that rebuilding is
    cheaper). A number's rows are replaced whole, so the numbers a changed registration had
    (its rows' digests: an anonymised registration's number is empty now) count too."""
    column = DIGEST_COLUMNS[via]
    limit = MAX_INCREMENTAL_DIGESTS + 1
    queries = [
        Registration.objects.filter(updated_at__gte=since)
        .exclude(**{column: ""})
        .order_by()
        .values_list(column, flat=True)
        .distinct(),
        RegistrationSignal.objects.filter(registration__updated_at__gte=since, via=via)
        .order_by()
        .values_list("digest", flat=True)
        .distinct(),
    ]
    found: set[str] = set()
    for query in queries:
        batch = list(query[:limit])
        if len(batch) == limit:
            return None
        found.update(batch)
        if len(found) > MAX_INCREMENTAL_DIGESTS:
            return None
    return sorted(found)


# --- the refresh -----------------------------------------------------------------------------


def tune(cursor) -> None:
    """The refresh transaction's settings (``SET LOCAL``: this transaction only)."""
    # The time-since-the-previous-registration window sorts every registration of the days
    # recomputed: in memory, not on disk.
    cursor.execute("SET LOCAL work_mem = '128MB'")
    # The statements are long expressions evaluated once a registration: compiling them (JIT)
    # cost more than it saved — seconds of a rebuild.
    cursor.execute("SET LOCAL jit = off")


def risk_signals_refresh(*, full: bool = False, recent: bool = True) -> RiskRefreshOutcome:
    """Bring the signal rows up to date (the module's docstring); ``recent``: also recompute
    the outlets above the baseline over the last ``RISK_RECENT_DAYS`` days."""
    started = timezone.now()
    if connection.vendor != "postgresql":
        # The statements are PostgreSQL's; elsewhere (SQLite in development) no signal is
        # computed and the figures show none.
        return RiskRefreshOutcome("skipped", started, 0, 0, 0, 0)
    clock = time.perf_counter()
    RiskState.objects.get_or_create(pk=RiskState.SINGLETON)
    with transaction.atomic():
        state = RiskState.objects.select_for_update().get(pk=RiskState.SINGLETON)
        with connection.cursor() as cursor:
            tune(cursor)
        parameters = signals.parameters()
        full = full or state.watermark is None or state.parameters != parameters
        full = full or not state.months_built
        summary = summary_state()
        if full:
            days, digests, months = None, {NIK: None, KK: None}, None
        else:
            since = state.watermark
            days = sorted(_changed_days(since))
            if len(day_ranges(days)) > MAX_INCREMENTAL_RANGES:
                days = None
            digests = {via: _changed_digests(since, via) for via in (NIK, KK)}
            # The registration counts were read from the report tables as of their refresh:
            # what changed after the one read last time is read again.
            months_since = min(since, state.summary_watermark or since)
            months = _changed_months(months_since)
            if days is not None:
                months |= {month_of(day) for day in days}
        if days != []:
            _refresh_local(days)
        for via, numbers in digests.items():
            if numbers != []:
                touched = _refresh_digests(via, numbers)
                if months is not None:
                    months |= {month_of(day) for day in touched}
        if days is None:
            months = None
        if months is None or months:
            _refresh_months(None if months is None else sorted(months))
        if full and not state.months_built:
            # Complete from now on: the outlets above the baseline below may sum them.
            state.months_built = True
            state.save(update_fields=["months_built"])
        if recent:
            from .figures import recent_outlets_refresh

            recent_outlets_refresh()
        duration_ms = int((time.perf_counter() - clock) * 1000)
        state.watermark = started - timedelta(seconds=settings.REPORTS_WATERMARK_MARGIN_SECONDS)
        state.refreshed_at = started
        state.parameters = parameters
        state.last_mode = "full" if full else "incremental"
        state.last_duration_ms = duration_ms
        state.summary_watermark = summary.watermark if summary else None
        if full:
            state.full_refreshed_at = started
        state.save()
    counted = [len(v) for v in digests.values() if v is not None]
    return RiskRefreshOutcome(
        mode=state.last_mode,
        as_of=started,
        days=-1 if days is None else len(days),
        digests=-1 if len(counted) < len(digests) else sum(counted),
        rows=RegistrationSignal.objects.count(),
        duration_ms=duration_ms,
    )
