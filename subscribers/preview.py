"""What a draft rule set would have done to the registrations of a past period, next to what
the rule sets in force did (docs/rules.md, "Drafts, preview, publication").

Set-based: one statement per chunk of the period's registrations (all of a NIK's in one
chunk) computes every registration's facts (``rulebook.FACTS``) and, from the rulebook's own
predicates compiled to SQL, two bit masks of decisions — under the rule set that judged it
(its ``policy``) and under the draft — grouped by outlet and the pair of masks. Python expands
the few grouped rows into the figures: refused and flagged by reason, over the cap and where the
cap's exceptions change, by outlet, dealer and province, and a few sample registrations per
change. Nothing is written but the preview's own row (``RulePreview``).

Each registration is judged against its history as recorded: the numbers its NIK held before it
(``services.counts_against_cap``, as they stand), not a replay in which the draft's refusals
would have changed what later registrations held. ``rejudge`` judges one registration the same
way in Python, through the same rulebook (the tests hold the two to the same verdicts).

On other databases than PostgreSQL (SQLite under ``make run``), or with
``RULE_PREVIEW_ENGINE = "python"``, each chunk is judged in Python instead: its registrations
read in id order a page at a time, each page's facts looked up in a few queries (the same
definitions as ``stored_facts``), judged by the same predicates and grouped into the same rows.
"""

# ruff: noqa: S608 - the statement is assembled from the ORM's SQL and the rulebook's; every
# value in it is a parameter.
from __future__ import annotations

import time
from bisect import bisect_left
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from outlets.models import Outlet
from outlets.selectors import InsiderDigests, insider_digests, insider_match, insider_querysets

from . import rulebook
from .models import IdType, Registration, RegistrationPolicy, RulePreview
from .services import cap_count, counts_against_cap

CODES = list(rulebook.DECISIONS)  # bit i of a mask is CODES[i]
BIT = {code: 1 << index for index, code in enumerate(CODES)}
REFUSED_MASK = sum(BIT[code] for code in rulebook.REFUSALS)
FLAGGED_MASK = sum(BIT[code] for code in rulebook.FLAGS)
OUTCOMES = ("accepted", "flagged", "refused")
CAP_STATES = ("under", "permitted", "refused", "purpose")
SAMPLES_PER_CHANGE = 20
# Periods with more registrations than this run as a background job with progress.
SYNC_LIMIT = 20_000
ROWS_PER_CHUNK = 1_000_000
# The memory PostgreSQL may use to sort one chunk in memory (about 225 bytes a registration).
WORK_MEM = "256MB"
MAX_CHUNKS = 64
# The portable path (``set_based()`` false) reads this many registrations at a time, and looks
# their NIKs' holdings up this many NIKs a query.
PAGE = 2_000
NIKS_PER_QUERY = 500


def set_based() -> bool:
    """Whether the preview runs as the PostgreSQL statement (``_statement``) or in Python on
    any database (``_judged``): the latter elsewhere than on PostgreSQL, and everywhere with
    ``RULE_PREVIEW_ENGINE = "python"`` (the tests run a preview both ways and compare them)."""
    return (
        connection.vendor == "postgresql"
        and getattr(settings, "RULE_PREVIEW_ENGINE", "auto") != "python"
    )


def _yes(condition: Q) -> Case:
    """A condition as a column that is TRUE or FALSE, never NULL."""
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def period_bounds(period_from: date, period_to: date) -> tuple[datetime, datetime]:
    """The local days ``period_from`` to ``period_to`` (both included) as aware datetimes."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(period_from, datetime.min.time()), tz)
    end = timezone.make_aware(
        datetime.combine(period_to + timedelta(days=1), datetime.min.time()), tz
    )
    return start, end


def period_registrations(period_from: date, period_to: date):
    start, end = period_bounds(period_from, period_to)
    return Registration.objects.filter(registered_at__gte=start, registered_at__lt=end)


# --- the facts, as columns ----------------------------------------------------------------------


def _column_facts() -> dict:
    """The yes/no facts that are columns of a registration, as ORM conditions (its outlet's,
    the NIK's count before it and the dealer's people come in ``_statement``)."""
    return {
        "citizen": Q(nationality="ID"),
        "personal": Q(category="personal"),
        "has_kk": ~Q(kk_number_digest=""),
        "face_shown": ~Q(face_sha256="") | ~Q(face_photo=""),
        "imported": Q(source=Registration.Source.IMPORT),
        "statement_signed": Q(statement_signed=True),
        "document_refused": Q(document_checked=False),
        "has_purpose": ~Q(declared_purpose=""),
    }


# The yes/no facts travel packed in one integer column (one bit each) through the sort and the
# grouping, and are unpacked for the rules.
PACKED = [
    *_column_facts(),
    "outlet_operator",
    "outlet_authorised",
    "counts",
    "insider_id",
    "insider_kk",
]
FACT_BIT = {name: 1 << index for index, name in enumerate(PACKED)}
# The ID type travels as a number in the bits above the facts (0: a type not known here).
ID_TYPES = list(IdType.values)
ID_TYPE_SHIFT = len(PACKED)


def _facts_queryset(queryset):
    """The period's registrations with their column facts packed (``bits``)."""
    conditions = {**_column_facts(), "counts": counts_against_cap()}
    id_type = Coalesce(Func(Value(ID_TYPES), F("id_type"), function="array_position"), Value(0))
    bits = sum(
        (
            Case(When(condition, then=Value(FACT_BIT[name])), default=Value(0))
            for name, condition in conditions.items()
        ),
        start=id_type * Value(1 << ID_TYPE_SHIFT),
    )
    return queryset.order_by().values(
        "id",
        "registered_at",
        "policy_id",
        "outlet_id",
        digest=F("id_number_digest"),
        kk_digest=F("kk_number_digest"),
        bits=ExpressionWrapper(bits, output_field=IntegerField()),
    )


def _outlets_sql() -> tuple[str, list]:
    """Each outlet's dealer, its own facts (the operator's own outlet) and the moment from
    which the operator authorised it in writing (the local midnight of that day)."""
    table = Outlet._meta.db_table
    sql = f"""
        SELECT id, dealer_id,
            CASE WHEN kind = %s THEN {FACT_BIT["outlet_operator"]} ELSE 0 END AS bits,
            (operator_authorised_from::timestamp AT TIME ZONE %s) AS authorised_at
        FROM {table}
    """
    return sql, [Outlet.Kind.OPERATOR.value, timezone.get_current_timezone_name()]


def stored_facts(registration: Registration) -> dict:
    """The same facts of one stored registration, looked up one by one in Python."""
    outlet = registration.outlet
    match = insider_match(
        dealer_id=outlet.dealer_id,
        id_digest=registration.id_number_digest,
        kk_digest=registration.kk_number_digest,
    )
    return _facts(
        registration,
        outlet,
        held_before=cap_count(id_digest=registration.id_number_digest, before=registration),
        insider_id=match == "id",
        insider_kk=_insider_kk(outlet.dealer_id, registration.kk_number_digest),
    )


def _facts(registration, outlet, *, held_before: int, insider_id: bool, insider_kk: bool) -> dict:
    """A registration's facts from its own fields, its outlet's and the three looked up."""
    return {
        "id_type": registration.id_type,
        "citizen": registration.nationality == "ID",
        "personal": registration.category == "personal",
        "has_kk": bool(registration.kk_number_digest),
        "face_shown": bool(registration.face_sha256 or registration.face_photo),
        "imported": registration.source == Registration.Source.IMPORT,
        "statement_signed": registration.statement_signed is True,
        "document_refused": registration.document_checked is False,
        "held_before": held_before,
        "outlet_operator": outlet.kind == Outlet.Kind.OPERATOR,
        "outlet_authorised": outlet.operator_authorised_on(
            timezone.localdate(registration.registered_at)
        ),
        "has_purpose": bool(registration.declared_purpose),
        "insider_id": insider_id,
        "insider_kk": insider_kk,
    }


def _insider_kk(dealer_id: int, kk_digest: str) -> bool:
    return (
        bool(kk_digest)
        and insider_match(dealer_id=dealer_id, id_digest="", kk_digest=kk_digest) == "kk"
    )


def rejudge(registration: Registration, policy) -> dict[str, bool]:
    """One registration judged again under ``policy``, in Python: the full re-judgement."""
    return rulebook.judge(policy, stored_facts(registration))


def mask_of(decisions: dict[str, bool]) -> int:
    return sum(BIT[code] for code, holds in decisions.items() if holds)


# --- the portable path: in Python, a page of registrations at a time -----------------------------

# The fields ``_facts`` reads, with those the grouping reads.
_FIELDS = (
    "id",
    "registered_at",
    "policy_id",
    "outlet_id",
    "id_type",
    "nationality",
    "category",
    "id_number_digest",
    "kk_number_digest",
    "face_sha256",
    "face_photo",
    "source",
    "statement_signed",
    "document_checked",
    "declared_purpose",
)


def _pages(queryset):
    """The registrations of ``queryset`` in id order, ``PAGE`` at a time."""
    queryset = queryset.order_by("pk").only(*_FIELDS)
    last = None
    while True:
        page = list((queryset if last is None else queryset.filter(pk__gt=last))[:PAGE])
        if not page:
            return
        yield page
        last = page[-1].pk


def _held_before(page) -> dict[int, int]:
    """Each registration's ``held_before`` (``cap_count(before=...)``): its NIK's holdings
    read once for the page, ``NIKS_PER_QUERY`` NIKs a query, then counted by (time, id)."""
    digests = sorted({registration.id_number_digest for registration in page})
    held: dict[str, list] = defaultdict(list)
    for first in range(0, len(digests), NIKS_PER_QUERY):
        rows = (
            Registration.objects.filter(
                counts_against_cap(), id_number_digest__in=digests[first : first + NIKS_PER_QUERY]
            )
            .order_by()
            .values_list("id_number_digest", "registered_at", "pk")
        )
        for digest, registered_at, pk in rows:
            held[digest].append((registered_at, pk))
    for moments in held.values():
        moments.sort()
    return {
        r.pk: bisect_left(held.get(r.id_number_digest, ()), (r.registered_at, r.pk)) for r in page
    }


def _decider(policy) -> list[tuple[int, rulebook.Rule]]:
    """``policy``'s decisions as ``(bit, predicate)`` pairs, the predicates built once per rule
    set and remembering their verdicts (``rulebook.compiled``): ``rulebook.judge``'s, faster."""
    decide = rulebook.compiled(policy)
    return [
        (BIT[code], getattr(decide, build.__name__)) for code, build in rulebook.DECISIONS.items()
    ]


def _mask(decider, facts: dict) -> int:
    return sum(bit for bit, rule in decider if rule.holds(facts))


def _judged(draft, queryset):
    """Each registration of ``queryset`` with its two masks, ``(registration, in force,
    draft)``, in id order: the facts of a page looked up in a few queries — its outlets, its
    dealers' people (``insider_digests``), its NIKs' holdings — then judged by the rulebook."""
    policies = {policy.pk: _decider(policy) for policy in RegistrationPolicy.objects.all()}
    proposed = _decider(draft)
    outlets: dict[int, Outlet] = {}
    nobody = InsiderDigests()
    for page in _pages(queryset):
        outlets.update(Outlet.objects.in_bulk({r.outlet_id for r in page} - outlets.keys()))
        held = _held_before(page)
        people = insider_digests(dealer_ids={outlets[r.outlet_id].dealer_id for r in page})
        for registration in page:
            outlet = outlets[registration.outlet_id]
            insiders = people.get(outlet.dealer_id, nobody)
            id_digest, kk_digest = registration.id_number_digest, registration.kk_number_digest
            facts = _facts(
                registration,
                outlet,
                held_before=held[registration.pk],
                insider_id=bool(id_digest) and id_digest in insiders.id_digests,
                insider_kk=bool(kk_digest) and kk_digest in insiders.kk_digests,
            )
            baseline = policies.get(registration.policy_id)
            baseline = _mask(baseline, facts) if baseline is not None else 0
            yield registration, baseline, _mask(proposed, facts)


def _judged_rows(draft, queryset) -> list[list[int]]:
    """``_judged`` grouped as the statement groups them: ``[outlet id, baseline mask, draft
    mask, count, min id, max id]``."""
    groups: dict[tuple, list[int]] = {}
    for registration, baseline, proposed in _judged(draft, queryset):
        key, pk = (registration.outlet_id, baseline, proposed), registration.pk
        group = groups.get(key)
        if group is None:
            groups[key] = [1, pk, pk]
        else:
            group[0] += 1
            group[1], group[2] = min(group[1], pk), max(group[2], pk)
    return [[*key, *group] for key, group in groups.items()]


# --- the statement ------------------------------------------------------------------------------


class PackedColumns(rulebook.Columns):
    """The facts as the statement carries them: yes/no facts as bits of ``bits``, the ID type
    as a number above them, the NIK's count as ``held_before``."""

    def fact(self, name: str) -> str:
        return f"(bits & {FACT_BIT[name]} <> 0)"

    def column(self, name: str) -> str:
        if name == "held_before":
            return "held_before"
        raise KeyError(f"no column for the fact {name!r}")

    def one_of(self, name: str, values: tuple) -> tuple[str, list]:
        if name != "id_type":
            raise KeyError(f"no list for the fact {name!r}")
        codes = [ID_TYPES.index(value) + 1 for value in values if value in ID_TYPES]
        if not codes:
            return "FALSE", []
        return f"(bits >> {ID_TYPE_SHIFT}) = ANY(%s)", [codes]


PACKED_COLUMNS = PackedColumns()


def _mask_sql(policy) -> tuple[str, list]:
    """``policy``'s decisions as one integer column, bit ``BIT[code]`` per decision."""
    parts, params = [], []
    for code, rule in rulebook.compile_rules(policy).items():
        if rule is rulebook.FALSE:
            continue
        sql, rule_params = rule.sql(PACKED_COLUMNS)
        parts.append(f"(CASE WHEN {sql} THEN {BIT[code]} ELSE 0 END)")
        params += rule_params
    return (" + ".join(parts) or "0"), params


def _baseline_sql(policies) -> tuple[str, list]:
    """Each registration's mask under the rule set that judged it."""
    whens, params = [], []
    for policy in policies:
        sql, mask_params = _mask_sql(policy)
        whens.append(f"WHEN %s THEN {sql}")
        params += [policy.pk, *mask_params]
    if not whens:
        return "0", []
    return f"(CASE policy_id {' '.join(whens)} ELSE 0 END)", params


def _insiders_sql(kind: str) -> tuple[str, list]:
    parts, params = [], []
    for queryset in insider_querysets(kind):
        sql, qs_params = queryset.query.sql_with_params()
        parts.append(sql)
        params += list(qs_params)
    # UNION: each (dealer, digest) once, so joining them never repeats a registration.
    return " UNION ".join(parts), params


def _statement(draft, policies, queryset, start: datetime, chunk=None, *, per_registration=False):
    """The preview's statement over ``queryset`` (the period) within ``chunk``: one pass — the
    registrations with their facts (the yes/no ones packed in one integer, so the sort the NIK's
    window needs stays narrow), the numbers each NIK held before each registration, then the
    decisions."""
    chunk = chunk if chunk is not None else Q()
    base_sql, base_params = _facts_queryset(queryset.filter(chunk)).query.sql_with_params()
    before_sql, before_params = (
        Registration.objects.filter(counts_against_cap(), chunk, registered_at__lt=start)
        .order_by()
        .values("id_number_digest")
        .query.sql_with_params()
    )
    outlets_sql, outlets_params = _outlets_sql()
    ids_sql, ids_params = _insiders_sql("id")
    kks_sql, kks_params = _insiders_sql("kk")
    tail, tail_params = _judged_tail(draft, policies, per_registration=per_registration)
    # Every piece is the ORM's SQL or the rulebook's; every value is a parameter.
    sql = f"""
        WITH base AS ({base_sql}),
        before AS (
            SELECT h.id_number_digest AS digest, count(*) AS n FROM ({before_sql}) h GROUP BY 1
        ),
        outlets AS ({outlets_sql}),
        insider_ids (dealer_id, digest) AS ({ids_sql}),
        insider_kks (dealer_id, digest) AS ({kks_sql}),
        joined AS (
            SELECT base.id, base.registered_at, base.policy_id, base.outlet_id,
                base.digest, COALESCE(before.n, 0) AS held_earlier,
                base.bits + outlets.bits
                    + CASE WHEN base.registered_at >= outlets.authorised_at
                        THEN {FACT_BIT["outlet_authorised"]} ELSE 0 END
                    + CASE WHEN ii.digest IS NULL THEN 0 ELSE {FACT_BIT["insider_id"]} END
                    + CASE WHEN ik.digest IS NULL THEN 0 ELSE {FACT_BIT["insider_kk"]} END
                    AS bits
            FROM base
            JOIN outlets ON outlets.id = base.outlet_id
            LEFT JOIN before ON before.digest = base.digest
            LEFT JOIN insider_ids ii ON ii.dealer_id = outlets.dealer_id
                AND ii.digest = base.digest AND base.digest <> ''
            LEFT JOIN insider_kks ik ON ik.dealer_id = outlets.dealer_id
                AND ik.digest = base.kk_digest AND base.kk_digest <> ''
        ),
        facts AS (
            SELECT id, policy_id, outlet_id, bits,
                held_earlier + count(*) FILTER (WHERE bits & {FACT_BIT["counts"]} <> 0) OVER (
                    PARTITION BY digest COLLATE "C" ORDER BY registered_at, id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                ) AS held_before
            FROM joined
        ){tail}
    """
    params = [
        *base_params,
        *before_params,
        *outlets_params,
        *ids_params,
        *kks_params,
        *tail_params,
    ]
    return sql, params


def _judged_tail(draft, policies, *, per_registration: bool) -> tuple[str, list]:
    """The end of the statement: each registration's two masks, or — the preview — the
    registrations first grouped by outlet, rule set and facts (the NIK's count cut at the
    largest number any rule compares it with), the masks computed once a group, then grouped
    by outlet and masks."""
    baseline, baseline_params = _baseline_sql(policies)
    proposed, proposed_params = _mask_sql(draft)
    masks_params = [*baseline_params, *proposed_params]
    if per_registration:
        sql = f"SELECT id, {baseline} AS baseline, {proposed} AS proposed FROM facts"
        return sql, masks_params
    # Each registration is grouped by what its own rule set and the draft read of it, nothing
    # more: a fact neither reads (or the NIK's count beyond the largest number they compare it
    # with) would only split the groups.
    keep, cap, keep_params = _relevant(draft, policies)
    sql = f"""
        , combos AS (
            SELECT outlet_id, policy_id, bits & {keep} AS bits,
                LEAST(held_before, {cap}) AS held_before,
                count(*) AS n, min(id) AS low, max(id) AS high
            FROM facts
            GROUP BY 1, 2, 3, 4
        )
        SELECT outlet_id, baseline, proposed, sum(n)::bigint, min(low), max(high)
        FROM (
            SELECT outlet_id, n, low, high, {baseline} AS baseline, {proposed} AS proposed
            FROM combos
        ) judged
        GROUP BY 1, 2, 3
    """
    return sql, [*keep_params, *masks_params]


def _relevant(draft, policies) -> tuple[str, str, list]:
    """Per rule set (with the draft), the bits of the facts their rules read, and the largest
    number they compare the NIK's count with: two ``CASE policy_id`` expressions."""
    id_type_bits = ~((1 << ID_TYPE_SHIFT) - 1)

    def reads(policy) -> tuple[int, int]:
        rules = list(rulebook.compile_rules(policy).values())
        used = set().union(*(rulebook.facts_used(rule) for rule in rules))
        bits = sum(FACT_BIT[name] for name in used if name in FACT_BIT)
        if "id_type" in used:
            bits |= id_type_bits
        numbers = set().union(*(rulebook.thresholds(rule, "held_before") for rule in rules))
        return bits, max(numbers, default=0)

    draft_bits, draft_cap = reads(draft)
    keep, cap, params = [], [], []
    for policy in policies:
        bits, number = reads(policy)
        keep.append(f"WHEN %s THEN {bits | draft_bits}")
        cap.append(f"WHEN %s THEN {max(number, draft_cap)}")
        params.append(policy.pk)
    if not policies:
        return str(draft_bits), str(draft_cap), []
    return (
        f"(CASE policy_id {' '.join(keep)} ELSE -1 END)",
        f"(CASE policy_id {' '.join(cap)} ELSE held_before END)",
        [*params, *params],
    )


def _chunk_filters(chunks: int) -> list[Q]:
    """``chunks`` ranges of the NIK digest (hexadecimal): every registration of one NIK falls
    in one range, so each range is judged on its own."""
    if chunks <= 1:
        return [Q()]
    bounds = [f"{(256 * i) // chunks:02x}" for i in range(1, chunks)]
    filters, low = [], None
    for high in [*bounds, None]:
        condition = Q()
        if low is not None:
            condition &= Q(id_number_digest__gte=low)
        if high is not None:
            condition &= Q(id_number_digest__lt=high)
        filters.append(condition)
        low = high
    return filters


def chunks_for(rows: int) -> int:
    return max(1, min(MAX_CHUNKS, -(-rows // ROWS_PER_CHUNK)))


def judge_chunk(draft, period_from: date, period_to: date, chunk: Q) -> list[list[int]]:
    """The grouped verdicts of one chunk: ``[outlet id, baseline mask, draft mask, count,
    min id, max id]`` rows."""
    queryset = period_registrations(period_from, period_to)
    if not set_based():
        return _judged_rows(draft, queryset.filter(chunk))
    start, _end = period_bounds(period_from, period_to)
    policies = list(RegistrationPolicy.objects.all())
    sql, params = _statement(draft, policies, queryset, start, chunk)
    with transaction.atomic(), connection.cursor() as cursor:
        _tune(cursor)
        cursor.execute(sql, params)
        return [list(row) for row in cursor.fetchall()]


def _tune(cursor) -> None:
    """For this statement only: no JIT (compiling its long decision expressions costs
    PostgreSQL more than evaluating them) and room to sort a chunk in memory (measured:
    bench/bench_rule_preview.py)."""
    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = %s", [WORK_MEM])


def judge_registrations(draft, period_from: date, period_to: date) -> dict[int, tuple[int, int]]:
    """Each registration of the period with its two masks, ``{id: (in force, draft)}``: the same
    statement without the grouping (for checks and investigations)."""
    queryset = period_registrations(period_from, period_to)
    if not set_based():
        return {r.pk: (baseline, proposed) for r, baseline, proposed in _judged(draft, queryset)}
    start, _end = period_bounds(period_from, period_to)
    policies = list(RegistrationPolicy.objects.all())
    sql, params = _statement(draft, policies, queryset, start, per_registration=True)
    with transaction.atomic(), connection.cursor() as cursor:
        _tune(cursor)
        cursor.execute(sql, params)
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def _merge(into: dict, rows) -> None:
    for outlet_id, before, after, count, low, high in rows:
        key = (outlet_id, before, after)
        if key in into:
            _n, low0, high0 = into[key]
            into[key] = [into[key][0] + count, min(low0, low), max(high0, high)]
        else:
            into[key] = [count, low, high]


def _outcome(mask: int) -> str:
    if mask & REFUSED_MASK:
        return "refused"
    if mask & FLAGGED_MASK:
        return "flagged"
    return "accepted"


def _cap_state(mask: int) -> str:
    if mask & BIT["over_cap"]:
        return "refused"
    if mask & BIT["purpose_missing"]:
        return "purpose"
    if mask & BIT["over_cap_permitted"]:
        return "permitted"
    return "under"


def _blank_group() -> dict:
    return {
        "rows": 0,
        "changed": 0,
        **{f"{side}_{o}": 0 for side in ("before", "after") for o in ("refused", "flagged")},
        "before_over_cap": 0,
        "after_over_cap": 0,
    }


def summarise(merged: dict) -> dict:
    """The figures of a preview from its grouped rows (``{(outlet, before, after): [count,
    min id, max id]}``)."""
    totals = {
        "rows": 0,
        "changed": 0,
        "decisions": {code: {"before": 0, "after": 0, "new": 0, "gone": 0} for code in CODES},
        "outcomes": {o: {"before": 0, "after": 0} for o in OUTCOMES},
        "outcome_changes": defaultdict(int),
        "cap_changes": defaultdict(int),
    }
    samples: dict[str, list[int]] = defaultdict(list)
    outlet_groups: dict[int, dict] = defaultdict(_blank_group)
    for (outlet_id, before, after), (count, low, high) in sorted(merged.items()):
        totals["rows"] += count
        group = outlet_groups[outlet_id]
        group["rows"] += count
        for side, mask in (("before", before), ("after", after)):
            outcome = _outcome(mask)
            totals["outcomes"][outcome][side] += count
            if outcome != "accepted":
                group[f"{side}_{outcome}"] += count
            if _cap_state(mask) != "under":
                group[f"{side}_over_cap"] += count
        buckets = []
        if before != after:
            totals["changed"] += count
            group["changed"] += count
        for code in CODES:
            held_before, held_after = bool(before & BIT[code]), bool(after & BIT[code])
            figures = totals["decisions"][code]
            figures["before"] += count * held_before
            figures["after"] += count * held_after
            if held_after and not held_before:
                figures["new"] += count
                buckets.append(f"{code}:new")
            elif held_before and not held_after:
                figures["gone"] += count
                buckets.append(f"{code}:gone")
        if _outcome(before) != _outcome(after):
            key = f"{_outcome(before)}>{_outcome(after)}"
            totals["outcome_changes"][key] += count
            buckets.append(f"outcome:{key}")
        if _cap_state(before) != _cap_state(after):
            key = f"{_cap_state(before)}>{_cap_state(after)}"
            totals["cap_changes"][key] += count
            buckets.append(f"cap:{key}")
        for bucket in buckets:
            for sample in sorted({low, high}):
                if len(samples[bucket]) < SAMPLES_PER_CHANGE:
                    samples[bucket].append(sample)
    totals["outcome_changes"] = dict(totals["outcome_changes"])
    totals["cap_changes"] = dict(totals["cap_changes"])
    return {
        "totals": totals,
        "groups": _groups(outlet_groups),
        "samples": dict(samples),
    }


def _groups(outlet_groups: dict[int, dict]) -> dict:
    """The outlets' figures, and the same added up by dealer and by province."""
    outlets = {
        row["id"]: row
        for row in Outlet.objects.filter(pk__in=list(outlet_groups)).values(
            "id", "roid", "name", "province", "dealer__code", "dealer__name"
        )
    }
    by = {"outlet": {}, "dealer": {}, "province": {}}
    for outlet_id, figures in outlet_groups.items():
        outlet = outlets.get(outlet_id, {})
        keys = {
            "outlet": (outlet.get("roid", str(outlet_id)), outlet.get("name", "")),
            "dealer": (outlet.get("dealer__code", ""), outlet.get("dealer__name", "")),
            "province": (outlet.get("province", ""), ""),
        }
        for dimension, (key, label) in keys.items():
            entry = by[dimension].setdefault(key, {"key": key, "label": label, **_blank_group()})
            for name, value in figures.items():
                entry[name] += value
    return {
        dimension: sorted(entries.values(), key=lambda e: (-e["changed"], -e["rows"], e["key"]))
        for dimension, entries in by.items()
    }


# --- running a preview --------------------------------------------------------------------------


def preview_run(*, preview_id: int) -> str:
    """Compute a preview, chunk by chunk, recording the progress; safe to rerun (a finished
    preview is left alone, an unfinished one starts over). Returns its status."""
    preview = RulePreview.objects.select_related("draft").filter(pk=preview_id).first()
    if preview is None:
        return "missing"
    if preview.status in (RulePreview.Status.DONE, RulePreview.Status.FAILED):
        return preview.status
    began = time.monotonic()
    rows = period_registrations(preview.period_from, preview.period_to).count()
    chunks = _chunk_filters(chunks_for(rows))
    RulePreview.objects.filter(pk=preview.pk).update(
        status=RulePreview.Status.RUNNING, chunks_total=len(chunks), chunks_done=0, rows=rows
    )
    merged: dict = {}
    try:
        for done, chunk in enumerate(chunks, start=1):
            with transaction.atomic():
                _merge(
                    merged,
                    judge_chunk(preview.draft, preview.period_from, preview.period_to, chunk),
                )
            RulePreview.objects.filter(pk=preview.pk).update(chunks_done=done)
        result = summarise(merged)
    except Exception as exc:
        RulePreview.objects.filter(pk=preview.pk).update(
            status=RulePreview.Status.FAILED,
            error=type(exc).__name__[:300],
            finished_at=timezone.now(),
        )
        raise
    RulePreview.objects.filter(pk=preview.pk).update(
        status=RulePreview.Status.DONE,
        result=result,
        rows=result["totals"]["rows"],
        seconds=round(time.monotonic() - began, 3),
        finished_at=timezone.now(),
    )
    return RulePreview.Status.DONE


def sample_registrations(preview: RulePreview, bucket: str):
    """The sample registrations of one change (``summarise``'s buckets) — masked fields only
    are shown (``core.masking``)."""
    ids = (preview.result.get("samples") or {}).get(bucket, [])
    return Registration.objects.filter(pk__in=ids).select_related("outlet", "outlet__dealer")
