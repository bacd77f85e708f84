"""The set-based reconciliation engine (PostgreSQL, operator data in the same database).

One chunk is a handful of statements over a key range (or over the MSISDNs / ID groups that
changed in it), whatever its size, in one transaction:
1. ``INSERT INTO recon_found ... SELECT`` — every discrepancy of the chunk's scope, from one
   join of the registrations with the operator relation (MSISDN phase), or from the active
   numbers of the over-cap ID digests (ID-group phase);
2. refresh the open discrepancies found again (``last_seen_run``, values);
3. open the new ones: ``INSERT ... ON CONFLICT (msisdn, kind) WHERE status = 'open' DO NOTHING``
   — the partial unique index makes a rerun or a second worker harmless;
4. resolve the open ones of the scope that were not found again;
5. flag the registrations of what was found (MSISDN phase; the ID-group phase's at the end).
Nothing of this passes through Python except the few name candidates (below): the worker's
memory does not depend on the size of the tables.

The rules are those of ``rules``. Names: SQL first keeps the pairs whose names differ
after ``lower`` and dropping spaces and ``'’.,-`` (the only non-letters a registered name can
hold); Python then confirms each candidate with ``normalize_name_for_comparison``, so the
verdict is exactly the name rule (SQL's ``lower`` is not Python's ``casefold``, and NFKC is
applied by Python only). A SQL "equal" cannot hide a Python "different": the operator's
``name_key`` is casefolded NFKC letters only, so it can equal the SQL form of a name only when
that name had nothing else to fold.
"""

# SQL here is assembled from table and column names of our own models; every value is a bound
# parameter.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from core.models import AuditEvent
from outlets.models import Outlet, StarterPack
from subscribers.models import Registration, RegistrationPolicy

from ..models import Discrepancy
from . import rules

REG = Registration._meta.db_table
POLICY = RegistrationPolicy._meta.db_table
PACK = StarterPack._meta.db_table
PRIVACY = "privacy_registrationprivacy"
OUTLET = Outlet._meta.db_table
DISC = Discrepancy._meta.db_table
AUDIT = AuditEvent._meta.db_table

# The characters clean_person_name lets into a registered name besides letters.
NAME_NOISE = " '\u2019.,-"


@dataclass
class ChunkResult:
    # Records examined, when counting them is free; else the planned figure stands.
    rows: int | None = None
    # MSISDNs examined, for a chunk of changed MSISDNs.
    msisdns: int | None = None
    found: dict[str, int] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    flagged: int = 0

    def as_counts(self) -> dict:
        counts = {
            "found": self.found,
            "opened": self.opened,
            "resolved": self.resolved,
            "flagged": self.flagged,
        }
        if self.msisdns is not None:
            counts["msisdns"] = self.msisdns
        return counts


def sql_name_key(column: str) -> str:
    """SQL for the candidate name key of a registered name (see the module docstring)."""
    return f"translate(lower({column}), %(name_noise)s, '')"


def _range(column: str, lo: str | None, hi: str | None, params: dict, prefix: str) -> str:
    parts = []
    if lo is not None:
        params[f"{prefix}_lo"] = lo
        parts.append(f"{column} >= %({prefix}_lo)s")
    if hi is not None:
        params[f"{prefix}_hi"] = hi
        parts.append(f"{column} < %({prefix}_hi)s")
    return " AND ".join(parts) or "TRUE"


def _counts(cursor, sql: str, params: dict) -> dict[str, int]:
    cursor.execute(sql, params)
    return {kind: count for kind, count in cursor.fetchall()}


_FOUND_TABLE = """
CREATE TEMP TABLE recon_found (
    msisdn varchar(15) NOT NULL,
    kind varchar(32) NOT NULL,
    registration_id bigint,
    outlet_id bigint,
    details jsonb NOT NULL,
    id_digest varchar(64) NOT NULL DEFAULT '',
    id_group jsonb NOT NULL DEFAULT '[]',
    o_name_key text
) ON COMMIT DROP
"""

# The per-MSISDN comparison, registration side: each registration of a life not known to have
# ended (and not refused: no sale) with the operator's record of its number, classified by
# life (``rules.life_of``). {r_where}/{o_where} restrict both sides to the chunk's scope.
_MSISDN_FOUND = """
INSERT INTO recon_found (msisdn, kind, registration_id, outlet_id, details, o_name_key)
WITH r AS (
    SELECT r.id, r.msisdn, r.outlet_id, r.registration_number, r.registered_at, r.id_type,
           r.id_number_digest, r.id_number_masked, r.full_name, r.birth_date, r.status,
           coalesce(r.registry_checked_at, r.registered_at) AS grace_start,
           pol.packs_sold_inactive
    FROM {reg} r JOIN {policy} pol ON pol.id = r.policy_id {r_join}
    WHERE {r_where} AND r.status <> 'refused' AND r.life_ended_at IS NULL
), o AS (
    SELECT o.msisdn, o.iccid, o.status, o.activated_at, o.outlet_roid, o.id_type,
           o.id_number_digest, o.id_number_masked, o.full_name, o.name_key, o.birth_date,
           o.issued_at, o.deactivated_at
    FROM {op} o {o_join} WHERE {o_where}
), pairs AS (
    SELECT r.msisdn, r.id AS reg_id, r.outlet_id AS reg_outlet_id, r.registration_number,
           r.registered_at, r.status AS r_status, r.grace_start, r.packs_sold_inactive,
           r.id_type AS r_id_type, r.id_number_masked AS r_masked, r.full_name AS r_name,
           r.birth_date AS r_birth, r.id_number_digest AS r_digest,
           o.activated_at, o.id_type AS o_id_type, o.id_number_digest AS o_digest,
           o.id_number_masked AS o_masked, o.full_name AS o_name, o.name_key AS o_name_key,
           o.birth_date AS o_birth, o.issued_at, o.deactivated_at,
           CASE WHEN o.msisdn IS NULL THEN 'none'
                WHEN o.issued_at IS NOT NULL AND r.registered_at < o.issued_at THEN 'earlier'
                WHEN o.deactivated_at IS NOT NULL AND r.registered_at < o.deactivated_at
                    THEN 'ended'
                WHEN o.deactivated_at IS NOT NULL THEN 'none'
                ELSE 'same' END AS life
    FROM r LEFT JOIN o ON o.msisdn = r.msisdn
), flags AS (
    SELECT p.*,
           p.life = 'none' AND p.r_status <> 'awaiting' AND p.grace_start <= %(grace_before)s
               AS k_missing,
           p.life = 'same' AND p.r_digest IS DISTINCT FROM p.o_digest AS k_id,
           p.life = 'same' AND {name_key} IS DISTINCT FROM p.o_name_key AS k_name,
           p.life = 'same' AND p.r_birth IS DISTINCT FROM p.o_birth AS k_birth,
           p.life = 'same' AND p.packs_sold_inactive
               AND p.activated_at < p.registered_at - %(skew)s AS k_early,
           p.life IN ('earlier', 'ended') AS k_ended
    FROM pairs p
), hits AS (
    -- Only the pairs with something to report go further (a few percent of them).
    SELECT * FROM flags h
    WHERE h.k_missing OR h.k_id OR h.k_name OR h.k_birth OR h.k_early OR h.k_ended
)
SELECT h.msisdn, k.kind, h.reg_id, h.reg_outlet_id,
       CASE k.kind
         WHEN 'missing_in_operator' THEN jsonb_build_object('portal', jsonb_build_object(
              'registration_number', h.registration_number, 'registered_at', h.registered_at))
         WHEN 'id_number_mismatch' THEN jsonb_build_object(
              'portal', jsonb_build_object('id_type', h.r_id_type, 'id_number', h.r_masked),
              'operator', jsonb_build_object('id_type', h.o_id_type, 'id_number', h.o_masked))
         WHEN 'name_mismatch' THEN jsonb_build_object(
              'portal', jsonb_build_object('full_name', h.r_name),
              'operator', jsonb_build_object('full_name', h.o_name))
         WHEN 'birth_date_mismatch' THEN jsonb_build_object(
              'portal', jsonb_build_object('birth_date', h.r_birth),
              'operator', jsonb_build_object('birth_date', h.o_birth))
         WHEN 'activated_before_registration' THEN jsonb_build_object(
              'portal', jsonb_build_object('registered_at', h.registered_at),
              'operator', jsonb_build_object('activated_at', h.activated_at))
         -- life_ended: not a discrepancy, the registration's life ended (then taken out).
         ELSE jsonb_build_object('ended_at', CASE WHEN h.life = 'earlier'
              THEN coalesce(h.deactivated_at, h.issued_at) ELSE h.deactivated_at END)
       END,
       CASE WHEN k.kind = 'name_mismatch' THEN h.o_name_key END
FROM hits h CROSS JOIN LATERAL unnest(ARRAY[
    CASE WHEN h.k_missing THEN 'missing_in_operator' END,
    CASE WHEN h.k_id THEN 'id_number_mismatch' END,
    CASE WHEN h.k_name THEN 'name_mismatch' END,
    CASE WHEN h.k_birth THEN 'birth_date_mismatch' END,
    CASE WHEN h.k_early THEN 'activated_before_registration' END,
    CASE WHEN h.k_ended THEN 'life_ended' END
]) AS k(kind)
WHERE k.kind IS NOT NULL
"""

# The operator side: an active record sold through one of our ROIDs that no registration of
# its life stands for (none at all, or only registrations of an earlier life).
_UNREGISTERED_FOUND = """
INSERT INTO recon_found (msisdn, kind, registration_id, outlet_id, details)
SELECT o.msisdn, 'unregistered_activation', NULL, ro.id,
       jsonb_build_object('operator', jsonb_build_object(
           'status', o.status, 'activated_at', o.activated_at,
           'outlet_roid', o.outlet_roid, 'iccid', o.iccid))
FROM {op} o {o_join}
JOIN {outlet} ro ON ro.roid = o.outlet_roid
WHERE {o_where} AND o.status = 'active' AND o.outlet_roid <> ''
  AND NOT EXISTS (
    SELECT 1 FROM {reg} r
    WHERE r.msisdn = o.msisdn AND r.status <> 'refused' AND r.life_ended_at IS NULL
      AND (o.issued_at IS NULL OR r.registered_at >= o.issued_at)
      AND NOT EXISTS (SELECT 1 FROM {privacy} pv
                      WHERE pv.registration_id = r.id AND pv.anonymised_at IS NOT NULL))
"""

# Registrations whose life of the number ended, and their packs: marked once, with when.
# updated_at is left alone (the engine's own verdict, as the flag below).
_END_LIVES = f"""
WITH ended AS (
    SELECT registration_id AS id, (details->>'ended_at')::timestamptz AS at
    FROM recon_found WHERE kind = 'life_ended'
), marked AS (
    UPDATE {REG} r SET life_ended_at = e.at FROM ended e
    WHERE r.id = e.id AND r.life_ended_at IS NULL
    RETURNING r.starter_pack_id, r.life_ended_at
)
UPDATE {PACK} p SET life_ended_at = m.life_ended_at FROM marked m
WHERE p.id = m.starter_pack_id AND p.life_ended_at IS NULL
"""

# The per-ID-group comparison: the active numbers of each over-cap digest, beyond the cap.
# LATERAL: each over-cap group is read through the (digest, activated_at, msisdn) index, already
# in activation order, instead of joining every active number to the few groups over the cap.
_GROUP_FOUND = """
INSERT INTO recon_found (msisdn, kind, registration_id, outlet_id, details, id_digest, id_group)
WITH heavy AS (
    SELECT o.id_number_digest AS digest, count(*) AS held
    FROM {op} o {g_join}
    WHERE o.status = 'active' AND o.id_number_digest <> '' AND {g_where}
    GROUP BY o.id_number_digest
    HAVING count(*) > %(cap)s
), ranked AS (
    SELECT x.*, h.held
    FROM heavy h CROSS JOIN LATERAL (
        SELECT o.msisdn, o.id_type, o.id_number_digest, o.id_number_masked, o.activated_at,
               o.outlet_roid,
               row_number() OVER (ORDER BY o.activated_at NULLS LAST, o.msisdn) AS position,
               jsonb_agg(o.msisdn) OVER () AS members
        FROM {op} o
        -- "<> ''" restates the partial index's condition so that the index can be used.
        WHERE o.status = 'active' AND o.id_number_digest <> '' AND o.id_number_digest = h.digest
    ) x
)
SELECT k.msisdn, 'id_over_limit', r.id, coalesce(r.outlet_id, ro.id),
       jsonb_build_object(
           'operator', jsonb_build_object('id_type', k.id_type, 'id_number', k.id_number_masked,
                                          'activated_at', k.activated_at),
           'held', k.held, 'cap', %(cap)s, 'position', k.position),
       k.id_number_digest, k.members
FROM ranked k
LEFT JOIN {reg} r ON r.msisdn = k.msisdn
LEFT JOIN {outlet} ro ON ro.roid = k.outlet_roid AND k.outlet_roid <> ''
WHERE k.position > %(cap)s
"""

_REFRESH = f"""
UPDATE {DISC} d
SET last_seen_run_id = %(run)s, last_seen_at = %(now)s, details = f.details,
    registration_id = f.registration_id, outlet_id = f.outlet_id,
    id_digest = f.id_digest, id_group = f.id_group
FROM recon_found f
WHERE d.status = 'open' AND d.msisdn = f.msisdn AND d.kind = f.kind {{same_life}}
"""
# Per MSISDN, a finding is the same discrepancy only for the same registration: a number's
# next life never inherits (nor shows its outlet) the previous life's discrepancy.
_SAME_LIFE = "AND f.registration_id IS NOT DISTINCT FROM d.registration_id"

_OPEN = f"""
WITH opened AS (
    INSERT INTO {DISC} (msisdn, kind, status, registration_id, outlet_id, details, id_digest,
                        id_group, first_detected_run_id, last_seen_run_id, detected_at,
                        last_seen_at)
    SELECT f.msisdn, f.kind, 'open', f.registration_id, f.outlet_id, f.details, f.id_digest,
           f.id_group, %(run)s, %(run)s, %(now)s, %(now)s
    FROM recon_found f
    -- In the unique index's order: a first run appends to it instead of descending at random.
    ORDER BY f.msisdn, f.kind
    ON CONFLICT (msisdn, kind) WHERE status = 'open' DO NOTHING
    RETURNING kind
)
SELECT kind, count(*) FROM opened GROUP BY kind
"""

_RESOLVE = f"""
WITH resolved AS (
    UPDATE {DISC} d
    SET status = 'resolved', resolved_at = %(now)s, resolved_by_run_id = %(run)s
    WHERE d.status = 'open' AND d.kind = ANY(%(kinds)s) AND {{d_where}}
      AND NOT EXISTS (SELECT 1 FROM recon_found f WHERE f.msisdn = d.msisdn AND f.kind = d.kind
                      {{same_life}})
    RETURNING d.kind
)
SELECT kind, count(*) FROM resolved GROUP BY kind
"""


def chunk_settings(cursor) -> None:
    """Planner settings for this chunk's transaction only (SET LOCAL): hash joins of a whole
    chunk fit in memory instead of spilling to disk; an index lookup is costed as what it is
    for tables read over and over (cached, not a disk seek), so a chunk of changed MSISDNs
    looks them up instead of scanning a million rows; no JIT compilation for statements that
    run in milliseconds."""
    cursor.execute(
        "SELECT set_config('work_mem', %s, true), set_config('random_page_cost', '1.1', true),"
        " set_config('jit', 'off', true)",
        [work_mem()],
    )


def work_mem() -> str:
    return str(getattr(settings, "RECONCILIATION_WORK_MEM", "64MB"))


def _temp_table(cursor, name: str, create_sql: str) -> None:
    # ON COMMIT DROP cleans up after a chunk; the DROP covers a chunk done inside a larger
    # transaction (a test, an inline run called from a transaction).
    cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
    cursor.execute(create_sql)


# Registrations with a discrepancy found in an MSISDN chunk go from registered to flagged
# (verified and blocked ones keep the reviewer's decision), each with its audit row. MSISDN
# chunks never share a registration, so their flags cannot deadlock; the ID-group phase, whose
# numbers are anywhere, flags when the run finishes (``flag_over_limit``). updated_at is left
# alone on purpose: the flag is the engine's own verdict, not a change an incremental run
# should re-examine.
_FLAG_AUDIT = f"""
INSERT INTO {AUDIT}
    (actor_id, actor_label, action, target_type, target_id, target_repr, request_id, before,
     after, created_at)
SELECT NULL, 'system', 'registration.flag', 'subscribers.registration', f.id::text,
       left(f.registration_number || ' ' || f.msisdn, 200), '',
       '{{"status": "registered"}}'::jsonb,
       jsonb_build_object('status', 'flagged', 'reconciliation_run', %(run)s), %(now)s
FROM flagged f
"""
_FLAG = f"""
WITH flagged AS (
    UPDATE {REG} r SET status = 'flagged'
    WHERE r.status = 'registered'
      AND r.id IN (SELECT registration_id FROM recon_found WHERE registration_id IS NOT NULL)
    RETURNING r.id, r.registration_number, r.msisdn
)
{_FLAG_AUDIT}
"""
_FLAG_OVER_LIMIT = f"""
WITH flagged AS (
    UPDATE {REG} r SET status = 'flagged'
    WHERE r.status = 'registered'
      AND r.id IN (
        SELECT d.registration_id FROM {DISC} d
        WHERE d.kind = 'id_over_limit' AND d.status = 'open' AND d.last_seen_run_id = %(run)s
          AND d.registration_id IS NOT NULL)
    RETURNING r.id, r.registration_number, r.msisdn
)
{_FLAG_AUDIT}
"""


def flag_over_limit(*, run, now) -> int:
    """At the end of a run: flag the registrations of the over-limit numbers it saw."""
    with connection.cursor() as cursor:
        cursor.execute(_FLAG_OVER_LIMIT, {"run": run.pk, "now": now})
        return cursor.rowcount


def _apply(
    cursor,
    *,
    params: dict,
    kinds,
    d_where: str,
    result: ChunkResult,
    flag: bool,
    per_life: bool = False,
) -> None:
    # An index and statistics, so the joins below never scan the found rows per discrepancy
    # (the discrepancy table's own statistics are stale while a first run fills it).
    cursor.execute("CREATE INDEX ON recon_found (msisdn, kind)")
    result.found = _counts(cursor, "SELECT kind, count(*) FROM recon_found GROUP BY kind", {})
    if sum(result.found.values()) > 1000:  # a few rows plan well without statistics
        # The columns the statements below join and filter on: the details (JSON) would cost
        # two thirds of the sampling and steer no plan.
        cursor.execute("ANALYZE recon_found (msisdn, kind, registration_id, id_digest)")
    same_life = _SAME_LIFE if per_life else ""
    # Resolved first: a new life's finding opens only once the previous life's is closed.
    result.resolved = _counts(
        cursor,
        _RESOLVE.format(d_where=d_where, same_life=same_life),
        {**params, "kinds": list(kinds)},
    )
    cursor.execute(_REFRESH.format(same_life=same_life), params)
    result.opened = _counts(cursor, _OPEN, params)
    if flag:
        cursor.execute(_FLAG, params)
        result.flagged = cursor.rowcount


def _confirm_names(cursor) -> None:
    """Drop the SQL name candidates that the Python rule calls equal."""
    cursor.execute(
        "SELECT msisdn, details->'portal'->>'full_name', o_name_key FROM recon_found "
        "WHERE kind = 'name_mismatch'"
    )
    same = [
        msisdn
        for msisdn, portal_name, operator_key in cursor.fetchall()
        if rules.names_match(portal_name, operator_key)
    ]
    if same:
        cursor.execute(
            "DELETE FROM recon_found WHERE kind = 'name_mismatch' AND msisdn = ANY(%s)", [same]
        )


GRACE_ENDING = (
    "coalesce(registry_checked_at, registered_at) >= %(grace_from)s"
    " AND coalesce(registry_checked_at, registered_at) <= %(grace_to)s"
)


# What changed since the run an incremental run follows. By the change sequence: the rows whose
# ``change_xid`` (the transaction that last changed them; see the migrations adding it) that
# run's planning snapshot did not see — committed after it or in progress then. A snapshot
# ``xmin:xmax:xip`` sees a transaction below ``xmax`` that is not in progress (``xip``), so it did
# not see exactly those from ``xmax`` on and those in ``xip``: two ranges of the column's index.
# (``xmin``, the oldest transaction running anywhere in the cluster then, can be far older than
# the run — another database's long load — and reading from it would re-read everything
# written since.) By the clock only when the run followed has no snapshot (a run from before the
# change sequence).
CHANGED_BY_XID = "(change_xid >= %(changes_xmax)s OR change_xid = ANY(%(changes_xip)s::bigint[]))"
CHANGED_BY_CLOCK = "updated_at >= %(since)s"


def snapshot_unseen(snapshot: str) -> tuple[int, list[int]]:
    """``(xmax, xip)`` of a ``pg_current_snapshot()`` text: the snapshot did not see the
    transactions from ``xmax`` on, nor those in ``xip`` (in progress when it was taken)."""
    _xmin, xmax, xip = snapshot.split(":", 2)
    return int(xmax), [int(xid) for xid in xip.split(",") if xid]


def changed(run) -> tuple[str, dict]:
    """The condition selecting the rows (of the registrations or the operator's records) an
    incremental run re-examines, and its parameters."""
    if run.changes_after:
        xmax, xip = snapshot_unseen(run.changes_after)
        return CHANGED_BY_XID, {"changes_xmax": xmax, "changes_xip": xip}
    return CHANGED_BY_CLOCK, {"since": run.since}


def current_snapshot() -> str:
    """The database's snapshot now (``xmin:xmax:xip,…``): what a run planned now sees. Empty
    when this transaction has written already (planning nested in a larger transaction, as in
    a test): its own writes are "seen" by its snapshot whenever they were made, so the next
    run falls back to the clock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text, pg_current_xact_id_if_assigned()")
        snapshot, own = cursor.fetchone()
    return "" if own is not None else snapshot


def grace_params(since, now) -> dict:
    """Bounds of ``GRACE_ENDING``: registrations whose activation grace period ends in
    ``[since, now]`` — unchanged, yet due for a look (``reg_grace_start_idx``)."""
    from .engine import activation_grace

    grace = activation_grace()
    return {"grace_from": since - grace, "grace_to": now - grace}


def process_msisdn_chunk(*, chunk, run, relation: str, now) -> ChunkResult:
    """Compare one MSISDN range (or the changed MSISDNs in it) and record the outcome."""
    from .engine import activation_grace, clock_skew

    params = {
        "run": run.pk,
        "now": now,
        "name_noise": NAME_NOISE,
        "grace_before": now - activation_grace(),
        "skew": clock_skew(),
    }
    result = ChunkResult()
    with connection.cursor() as cursor:
        chunk_settings(cursor)
        _temp_table(cursor, "recon_found", _FOUND_TABLE)
        if chunk.scope == chunk.Scope.ALL:
            r_where = _range("r.msisdn", chunk.key_from, chunk.key_to, params, "k")
            o_where = _range("o.msisdn", chunk.key_from, chunk.key_to, params, "k")
            d_where = _range("d.msisdn", chunk.key_from, chunk.key_to, params, "k")
            r_join = o_join = ""
        else:
            params["since"] = run.since
            params.update(grace_params(run.since, now))
            changed_where, changed_params = changed(run)
            params.update(changed_params)
            scope_range_r = _range("msisdn", chunk.key_from, chunk.key_to, params, "k")
            _temp_table(
                cursor,
                "recon_scope",
                "CREATE TEMP TABLE recon_scope (msisdn varchar(15) PRIMARY KEY) ON COMMIT DROP",
            )
            cursor.execute(
                f"INSERT INTO recon_scope SELECT msisdn FROM {REG}"
                f" WHERE {changed_where} AND {scope_range_r}"
                f" UNION SELECT msisdn FROM {REG} WHERE {GRACE_ENDING} AND {scope_range_r}"
                f" UNION SELECT msisdn FROM {relation}"
                f" WHERE {changed_where} AND {scope_range_r}",
                params,
            )
            cursor.execute("ANALYZE recon_scope")
            r_where = o_where = "TRUE"
            r_join = "JOIN recon_scope s ON s.msisdn = r.msisdn"
            o_join = "JOIN recon_scope s ON s.msisdn = o.msisdn"
            d_where = "d.msisdn IN (SELECT msisdn FROM recon_scope)"
            cursor.execute("SELECT count(*) FROM recon_scope")
            result.msisdns = cursor.fetchone()[0]
        cursor.execute(
            _MSISDN_FOUND.format(
                reg=REG,
                policy=POLICY,
                op=relation,
                r_join=r_join,
                # Anonymised registrations (privacy retention/erasure) have nothing to compare.
                r_where=f"({r_where}) AND NOT EXISTS (SELECT 1 FROM {PRIVACY} pv"
                " WHERE pv.registration_id = r.id AND pv.anonymised_at IS NOT NULL)",
                o_join=o_join,
                o_where=o_where,
                name_key=sql_name_key("p.r_name"),
            ),
            params,
        )
        cursor.execute(
            _UNREGISTERED_FOUND.format(
                op=relation,
                o_join=o_join,
                o_where=o_where,
                outlet=OUTLET,
                reg=REG,
                privacy=PRIVACY,
            ),
            params,
        )
        cursor.execute(_END_LIVES)
        cursor.execute("DELETE FROM recon_found WHERE kind = 'life_ended'")
        _confirm_names(cursor)
        _apply(
            cursor,
            params=params,
            kinds=rules.MSISDN_KINDS,
            d_where=d_where,
            result=result,
            flag=True,
            per_life=True,
        )
    return result


def process_id_group_chunk(*, chunk, run, relation: str, now) -> ChunkResult:
    """Find the numbers beyond the per-ID cap for one digest range (or its changed groups)."""
    params = {"run": run.pk, "now": now, "cap": run.id_cap}
    result = ChunkResult()
    with connection.cursor() as cursor:
        chunk_settings(cursor)
        _temp_table(cursor, "recon_found", _FOUND_TABLE)
        if chunk.scope == chunk.Scope.ALL:
            g_join = ""
            g_where = _range("o.id_number_digest", chunk.key_from, chunk.key_to, params, "k")
            d_where = _range("d.id_digest", chunk.key_from, chunk.key_to, params, "k")
        else:
            changed_where, changed_params = changed(run)
            params.update(changed_params)
            changed_range = _range("o.id_number_digest", chunk.key_from, chunk.key_to, params, "k")
            open_range = _range("d.id_digest", chunk.key_from, chunk.key_to, params, "k")
            _temp_table(
                cursor,
                "recon_digests",
                "CREATE TEMP TABLE recon_digests (digest varchar(64) PRIMARY KEY) ON COMMIT DROP",
            )
            _temp_table(
                cursor,
                "recon_changed",
                "CREATE TEMP TABLE recon_changed (msisdn varchar(15) PRIMARY KEY) ON COMMIT DROP",
            )
            cursor.execute(
                f"INSERT INTO recon_changed SELECT msisdn FROM {REG} WHERE {changed_where}"
                f" UNION SELECT msisdn FROM {relation} WHERE {changed_where}",
                params,
            )
            cursor.execute("ANALYZE recon_changed")
            # The groups a changed number joined (its digest now) or may have left (an open
            # over-limit group that listed it).
            # The open groups' members are listed once, then joined with the changed numbers
            # (MATERIALIZED: right after a first run the discrepancy table's statistics may
            # still say it is empty, and the join would then be redone for every group).
            cursor.execute(
                f"""
                WITH members AS MATERIALIZED (
                    SELECT d.id_digest, m.msisdn FROM {DISC} d
                    CROSS JOIN LATERAL jsonb_array_elements_text(d.id_group) AS m(msisdn)
                    WHERE d.status = 'open' AND d.kind = 'id_over_limit' AND {open_range}
                )
                INSERT INTO recon_digests
                SELECT o.id_number_digest FROM {relation} o
                JOIN recon_changed c ON c.msisdn = o.msisdn
                WHERE o.id_number_digest <> '' AND {changed_range}
                UNION
                SELECT g.id_digest FROM members g JOIN recon_changed c ON c.msisdn = g.msisdn
                """,
                params,
            )
            cursor.execute("ANALYZE recon_digests")
            g_join = "JOIN recon_digests g ON g.digest = o.id_number_digest"
            g_where = "TRUE"
            d_where = "d.id_digest IN (SELECT digest FROM recon_digests)"
        if run.id_cap is not None:
            cursor.execute(
                _GROUP_FOUND.format(
                    op=relation, reg=REG, outlet=OUTLET, g_join=g_join, g_where=g_where
                ),
                params,
            )
        _apply(
            cursor,
            params=params,
            kinds=rules.GROUP_KINDS,
            d_where=d_where,
            result=result,
            flag=False,
        )
    return result


# --- planning ---------------------------------------------------------------------------------


SAMPLE_ROWS = 200_000


def msisdn_boundaries(sources: list[str], params: dict, *, parts: int) -> list[str]:
    """Keys splitting the union of ``sources`` (SQL each returning a column ``k``) into
    ``parts`` about equal ranges: quantiles, computed in one statement."""
    if parts <= 1:
        return []
    params = {**params, "qs": [i / parts for i in range(1, parts)]}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_disc(%(qs)s::float8[]) WITHIN GROUP (ORDER BY k)"
            f" FROM ({' UNION ALL '.join(sources)}) s",
            params,
        )
        return sorted({key for key in cursor.fetchone()[0] or [] if key is not None})


def sample_clause(estimated: int) -> str:
    """TABLESAMPLE for about SAMPLE_ROWS rows of a table this big (none when it is small):
    quantiles of a sample split a million rows as well as quantiles of all of them."""
    if estimated <= SAMPLE_ROWS:
        return ""
    return f" TABLESAMPLE SYSTEM ({100 * SAMPLE_ROWS / estimated:.4f}) REPEATABLE (7)"


def estimated_rows(relation: str) -> int:
    """The planner's row count of a table (instant); an exact count when it has none yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [relation]
        )
        row = cursor.fetchone()
        if row and row[0] > 0:
            return row[0]
        cursor.execute(f"SELECT count(*) FROM {relation}")
        return cursor.fetchone()[0]


def scalar(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchone()[0]
