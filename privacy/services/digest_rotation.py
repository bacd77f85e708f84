"""Re-digesting every ID/KK digest under a new ``ID_DIGEST_KEY`` (docs/privacy.md, "Digest key
rotation").

Configured: ``ID_DIGEST_KEY`` = the new key, ``ID_DIGEST_KEY_PREVIOUS`` = the key the stored
digests were made with. The job:

1. marks the rotation under way (``core.DigestKeyState``: new and previous fingerprints);
2. walks every table whose digests have the encrypted number beside them
   (``privacy.digest_fields.FROM_CIPHERTEXT``) by primary key in chunks, rows locked: decrypts
   each number, learns its pair (old digest → new digest, ``core.DigestKeyMap``) and, in the
   same transaction, moves every copy of that digest that is compared with others — in every
   digest column of the project, through its index — to the new value. So at each commit a
   number is either old or new in all of them: comparisons between stored digests
   (reconciliation's joins, the ID groups, the insiders' sets) never mix keys, and
   ``core.pii.digest`` — the new digest for a number the map knows, the old one otherwise —
   matches every stored copy. Unindexed columns of big tables (``CHUNK_SCOPE``: a
   registration's KK and guardian digests, inactive operator records, closed ID groups) move
   with their own row's chunk or at the sweep;
3. re-digests the erasure ledger from the encrypted number each entry keeps;
4. sweeps every digest column once more for old digests the map knows (rows written with an
   old digest while the chunk that moved it was committing);
5. ends the rotation (the state names the new key only): in the same transaction rewrites the
   digest prefixes the audit trail keeps (``AUDIT_DIGEST_PREFIXES``), marks the external
   copies that hold rows as needing a reload (``core.external_digests``), and empties the map.

Resumable: the cursor (phase, table, last primary key) commits with each chunk, fenced by the
job's claim; a killed job resumes where it stopped (``--take-over`` at once). Numbers only the
external mocks hold (the operator's database, the population registry) cannot be re-digested
without their number: the next snapshot or registry file load writes them under the new key.
"""

import hashlib
import hmac
import logging

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import external_digests, pii
from core.idnumbers import id_number_forms
from core.models import DigestKeyMap, DigestKeyState

from ..digest_fields import (
    AUDIT_DIGEST_PREFIXES,
    CHUNK_SCOPE,
    FROM_CIPHERTEXT,
    LEDGER,
    MAPPED_LISTS,
    all_digest_columns,
)
from ..models import PrivacyJob
from .common import chunk_size
from .jobs import Progress, checkpoint, privacy_job_start

logger = logging.getLogger(__name__)


class DigestRotationRefused(Exception):
    """The keys configured do not describe a rotation of this database's digests."""


class DigestRotationNeedsPostgres(DigestRotationRefused):
    """The database is not PostgreSQL: the rotation rewrites digests in place, inside JSON
    arrays too, with PostgreSQL's statements (SQLite, ``make run``'s default, cannot run it)."""


class DigestRotationIncomplete(Exception):
    """The rotation went through every row but left values it could not read."""


def _hmac(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def _keys() -> tuple[str, str]:
    current = settings.ID_DIGEST_KEY
    previous = getattr(settings, "ID_DIGEST_KEY_PREVIOUS", "")
    if not previous or previous == current:
        raise DigestRotationRefused(
            "Set ID_DIGEST_KEY to the new key and ID_DIGEST_KEY_PREVIOUS to the key the stored "
            "digests were made with, on every process, then run the rotation."
        )
    return current, previous


def digest_rotation_check() -> str:
    """What a rotation with the configured keys would do: ``"start"``, ``"resume"`` or
    ``"done"`` (the stored digests are the new key's already). Raises
    ``DigestRotationRefused`` when the keys do not fit the stored fingerprint, and
    ``DigestRotationNeedsPostgres`` on another database."""
    if connection.vendor != "postgresql":
        raise DigestRotationNeedsPostgres(
            f"The digest key rotation needs PostgreSQL; this database is {connection.vendor}."
            " Nothing was started."
        )
    current, previous = _keys()
    new_fp, old_fp = pii.key_fingerprint(current), pii.key_fingerprint(previous)
    state = DigestKeyState.objects.filter(pk=1).first()
    if state is None or (state.fingerprint == old_fp and not state.previous_fingerprint):
        return "start"
    if state.fingerprint == new_fp and state.previous_fingerprint == old_fp:
        return "resume"
    if state.fingerprint == new_fp and not state.previous_fingerprint:
        return "done"
    raise DigestRotationRefused(
        f"The stored digests are under the key with fingerprint {state.fingerprint}"
        + (f" (rotating from {state.previous_fingerprint})" if state.previous_fingerprint else "")
        + f"; configured: new {new_fp}, previous {old_fp}."
    )


def digest_rotation_start(*, trigger: str, requested_by=None, dispatch: bool = True) -> PrivacyJob:
    """Queue the re-digesting of every digest column. Deploy the two keys to every process
    first (web, workers, beat): from then on they write and compare through the map."""
    digest_rotation_check()
    return privacy_job_start(
        kind=PrivacyJob.Kind.DIGEST_ROTATION,
        trigger=trigger,
        requested_by=requested_by,
        dispatch=dispatch,
    )


PHASES = ("ciphertext", "ledger", "sweep", "finish")


def run_digest_rotation(job: PrivacyJob, token: str, progress: Progress) -> None:
    current, previous = _keys()
    counts = {
        "rows": 0, "moved": 0, "already_new": 0, "inconsistent": 0, "unreadable": 0,
        "ledger": 0, "swept": 0, **job.counts,
    }  # fmt: skip
    cursor = dict(job.cursor) or {"phase": "ciphertext", "model": None, "last": 0}
    if cursor.get("phase") == "done":
        return
    with transaction.atomic():
        state, _created = DigestKeyState.objects.select_for_update().get_or_create(
            pk=1, defaults={"fingerprint": pii.key_fingerprint(previous)}
        )
        todo = digest_rotation_check()
        if todo == "done" and cursor["phase"] == "ciphertext":
            checkpoint(job, token, cursor={"phase": "done"}, counts={**counts, "nothing_to_do": 1})
            return
        if todo == "start":
            state.fingerprint = pii.key_fingerprint(current)
            state.previous_fingerprint = pii.key_fingerprint(previous)
            state.rotation_started_at = timezone.now()
            state.save()
        checkpoint(job, token, cursor=cursor, counts=counts)
    size = int(job.parameters.get("chunk_size") or chunk_size())
    phase = cursor["phase"]
    if phase == "ciphertext":
        labels = list(FROM_CIPHERTEXT)
        start = labels.index(cursor["model"]) if cursor.get("model") in labels else 0
        for label in labels[start:]:
            last = cursor["last"] if cursor.get("model") == label else 0
            while True:
                with transaction.atomic():
                    last, done = _ciphertext_chunk(label, last, size, current, previous, counts)
                    cursor = {"phase": "ciphertext", "model": label, "last": last}
                    checkpoint(job, token, cursor=cursor, counts=counts)
                if done:
                    break
                progress(f"{label} up to pk {last}: {counts['moved']} digests moved so far")
        cursor = {"phase": "ledger", "model": None, "last": 0}
        phase = "ledger"
    if phase == "ledger":
        last = cursor.get("last", 0)
        while True:
            with transaction.atomic():
                last, done = _ledger_chunk(last, size, current, previous, counts)
                cursor = {"phase": "ledger", "model": None, "last": last}
                checkpoint(job, token, cursor=cursor, counts=counts)
            if done:
                break
        phase = "sweep"
    if phase == "sweep" and counts["unreadable"]:
        # Honest end: failed with the count, and a resume (once the missing encryption key is
        # back) walks the tables again; the rotation stays under way, the map kept.
        unreadable = counts["unreadable"]
        with transaction.atomic():
            checkpoint(
                job, token, cursor={"phase": "ciphertext", "model": None, "last": 0},
                counts={**counts, "unreadable": 0, "last_unreadable": unreadable},
            )  # fmt: skip
        raise DigestRotationIncomplete(
            f"{unreadable} number(s) cannot be decrypted with any configured encryption key: "
            "their digests are still the previous key's (the rotation stays under way)"
        )
    if phase == "sweep":
        # One column per transaction (a big table's unindexed column is one hash join).
        targets = _sweep_targets()
        for index in range(int(cursor.get("column") or 0), len(targets)):
            with transaction.atomic():
                counts["swept"] += _apply_map(None, only=targets[index])
                cursor = {"phase": "sweep", "column": index + 1}
                checkpoint(job, token, cursor=cursor, counts=counts)
            progress(f"swept {targets[index][0]}.{targets[index][1]}")
        with transaction.atomic():
            checkpoint(job, token, cursor={"phase": "finish"}, counts=counts)
        phase = "finish"
    with transaction.atomic():
        # Rows written with a moved number's old digest since the sweep, then the end: the
        # map's last use.
        counts["swept"] += _apply_map(None)
        counts["audit_prefixes"] = _rewrite_audit_prefixes()
        DigestKeyState.objects.filter(pk=1).update(
            fingerprint=pii.key_fingerprint(current), previous_fingerprint="",
            rotation_started_at=None, updated_at=timezone.now(),
        )  # fmt: skip
        stale = external_copies_to_reload()
        external_digests.mark_stale(stale)
        counts["reload"] = stale
        DigestKeyMap.objects.all().delete()
        checkpoint(job, token, cursor={"phase": "done"}, counts=counts)
    progress(f"every digest is under the new key: {counts}")


def external_copies_to_reload() -> list[str]:
    """The external systems' copies holding rows: numbers only they know are still under the
    retired key (nothing to re-digest them from) until their file is loaded again."""
    copies = {
        external_digests.OPERATOR_SNAPSHOT: "operatordb.OperatorSubscriber",
        external_digests.POPULATION_REGISTRY: "operatordb.PopulationRecord",
    }
    return [
        source for source, label in copies.items() if apps.get_model(label)._base_manager.exists()
    ]


def _rewrite_audit_prefixes() -> int:
    """The digest prefixes audit rows keep (``AUDIT_DIGEST_PREFIXES``), moved through the map
    to the new key's; found through the trail's (target type, target id) index. A prefix of a
    number the portal never held encrypted is not in the map and stays as it was."""
    from core.models import AuditEvent

    table = AuditEvent._meta.db_table
    moved = 0
    with connection.cursor() as cursor:
        for (target_type, action, key), length in AUDIT_DIGEST_PREFIXES.items():
            cursor.execute(
                f"UPDATE {table} a SET after = jsonb_set(a.after, %s, to_jsonb(left(m.new, %s))) "  # noqa: S608
                "FROM core_digestkeymap m "
                "WHERE a.target_type = %s AND a.action = %s AND jsonb_typeof(a.after) = 'object' "
                "AND a.after ->> %s = left(m.old, %s)",
                [[key], length, target_type, action, key, length],
            )
            moved += cursor.rowcount
    return moved


def _ciphertext_chunk(label, last, size, current, previous, counts) -> tuple[int, bool]:
    model = apps.get_model(label)
    pairs_of_fields = FROM_CIPHERTEXT[label]
    fields = [name for pair in pairs_of_fields for name in pair]
    rows = list(
        model._base_manager.select_for_update()
        .filter(pk__gt=last)
        .order_by("pk")
        .only("pk", *fields)[:size]
    )
    if not rows:
        return last, True
    pairs: dict[str, str] = {}
    rewrite = []
    for row in rows:
        for encrypted, digest_field in pairs_of_fields:
            stored, token = getattr(row, digest_field), getattr(row, encrypted)
            if not stored or not token:
                continue  # a digest without its number is moved by the map, if at all
            try:
                number = pii.decrypt(token)
            except ValueError:
                counts["unreadable"] += 1
                logger.error("%s %s.%s: no configured key decrypts it", label, row.pk, encrypted)
                continue
            old, new = _hmac(previous, number), _hmac(current, number)
            if stored == new:
                counts["already_new"] += 1
            elif stored == old:
                pairs[old] = new
            else:  # a digest of something else than its own number: made right
                counts["inconsistent"] += 1
                setattr(row, digest_field, new)
                rewrite.append((row, digest_field))
    for row, digest_field in rewrite:
        model._base_manager.filter(pk=row.pk).update(**{digest_field: getattr(row, digest_field)})
    counts["moved"] += _learn(pairs)
    _move_rows(model, [digest for _e, digest in pairs_of_fields], [row.pk for row in rows])
    counts["rows"] += len(rows)
    return rows[-1].pk, len(rows) < size


def _ledger_chunk(last, size, current, previous, counts) -> tuple[int, bool]:
    label, encrypted, digests_field = LEDGER
    model = apps.get_model(label)
    rows = list(
        model._base_manager.select_for_update()
        .filter(pk__gt=last)
        .order_by("pk")
        .only("pk", encrypted, digests_field)[:size]
    )
    if not rows:
        return last, True
    pairs: dict[str, str] = {}
    for row in rows:
        token = getattr(row, encrypted)
        if not token:
            continue  # its list is mapped element by element
        try:
            number = pii.decrypt(token)
        except ValueError:
            counts["unreadable"] += 1
            continue
        forms = id_number_forms(number)
        pairs.update({_hmac(previous, form): _hmac(current, form) for form in forms})
        model._base_manager.filter(pk=row.pk).update(
            **{digests_field: [_hmac(current, form) for form in forms]}
        )
        counts["ledger"] += 1
    _learn(pairs)
    return rows[-1].pk, len(rows) < size


def _learn(pairs: dict[str, str]) -> int:
    """Record the pairs and move every copy of their old digests, in the caller's
    transaction. Returns how many pairs were new."""
    if not pairs:
        return 0
    before = DigestKeyMap.objects.filter(old__in=list(pairs)).count()
    DigestKeyMap.objects.bulk_create(
        [DigestKeyMap(old=old, new=new) for old, new in pairs.items()], ignore_conflicts=True
    )
    _apply_map(list(pairs))
    return len(pairs) - before


def _move_rows(model, columns: list[str], pks: list[int]) -> None:
    """The chunk's own rows: every digest column the map knows moves (also those a global
    move leaves to the sweep)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        for column in columns:
            cursor.execute(
                f"UPDATE {table} t SET {column} = m.new FROM core_digestkeymap m "  # noqa: S608
                f"WHERE t.{model._meta.pk.column} = ANY(%s) AND t.{column} = m.old",
                [pks],
            )


def _sweep_targets() -> list[tuple[str, str]]:
    return all_digest_columns() + [(label, c) for label, cs in MAPPED_LISTS.items() for c in cs]


def _apply_map(olds: list[str] | None, only: tuple[str, str] | None = None) -> int:
    """Replace old digests the map knows by their new value in every digest column (only
    ``olds`` when given; only the column ``only`` when given). Plain SQL: no ``updated_at``
    moves, so incremental reconciliation does not see millions of changed rows."""
    moved = 0
    old_filter = " AND m.old = ANY(%s)" if olds is not None else ""
    params = [olds] if olds is not None else []
    with connection.cursor() as cursor:
        for label, column in all_digest_columns():
            if only is not None and (label, column) != only:
                continue
            table = apps.get_model(label)._meta.db_table
            scope = ""
            if olds is not None and (label, column) in CHUNK_SCOPE:
                condition = CHUNK_SCOPE[(label, column)]
                if condition is None:
                    continue  # the chunk's own rows (_move_rows), the rest at the sweep
                scope = f" AND t.{condition.replace(' AND ', ' AND t.')}"
            # Table and column names come from the code (privacy.digest_fields), never input.
            cursor.execute(
                f"UPDATE {table} t SET {column} = m.new FROM core_digestkeymap m "  # noqa: S608
                f"WHERE t.{column} = m.old{old_filter}{scope}",
                params,
            )
            moved += cursor.rowcount
        for label, columns in MAPPED_LISTS.items():
            table = apps.get_model(label)._meta.db_table
            for column in columns:
                if only is not None and (label, column) != only:
                    continue
                # A chunk's few pairs: containment test; the sweep: each element through the
                # map's primary key (never the whole map as one array).
                which = (
                    f"{column} ?| %s"
                    if olds is not None
                    else f"EXISTS (SELECT 1 FROM jsonb_array_elements_text({column}) x(v) "  # noqa: S608
                    "JOIN core_digestkeymap k ON k.old = x.v)"
                )
                cursor.execute(
                    f"UPDATE {table} SET {column} = ("  # noqa: S608
                    "SELECT coalesce(jsonb_agg(coalesce(m.new, e.v) ORDER BY e.n), '[]'::jsonb) "
                    f"FROM jsonb_array_elements_text({column}) WITH ORDINALITY e(v, n) "
                    "LEFT JOIN core_digestkeymap m ON m.old = e.v"
                    f") WHERE jsonb_typeof({column}) = 'array' AND {which}",
                    params,
                )
                moved += cursor.rowcount
    return moved


def digest_stragglers() -> list[tuple[str, str, int]]:
    """(model, digest field, count) of digests that are not ``ID_DIGEST_KEY``'s digest of the
    encrypted number beside them (reads every encrypted number; writes nothing)."""
    current = settings.ID_DIGEST_KEY
    left = []
    for label, pairs in FROM_CIPHERTEXT.items():
        model = apps.get_model(label)
        for encrypted, digest_field in pairs:
            count = 0
            rows = (
                model._base_manager.exclude(**{digest_field: ""})
                .exclude(**{encrypted: ""})
                .values_list(encrypted, digest_field)
            )
            for token, stored in rows.iterator(chunk_size=2000):
                try:
                    number = pii.decrypt(token)
                except ValueError:
                    count += 1
                    continue
                if stored != _hmac(current, number):
                    count += 1
            if count:
                left.append((label, digest_field, count))
    return left
