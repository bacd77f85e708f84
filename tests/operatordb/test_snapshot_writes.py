"""The snapshot load's writes on PostgreSQL: a large write (the first load, a reload that
changes most of the table) drops the table's read-only indexes and builds them again in the
same transaction; the change sequence (``change_xid``) and ``updated_at`` move only for what
changed; a bad row anywhere rejects the whole file and leaves the previous snapshot as it was."""

import contextlib
import random
import string

import pytest
from django.db import IntegrityError, connection, transaction

from operatordb import snapshot
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import SnapshotRejected, load_snapshot

from .snapshot_files import TABLE, luhn_completed
from .snapshot_files import iccid as _iccid
from .snapshot_files import row as _row
from .snapshot_files import write as _write

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the set-based load is PostgreSQL's"
)


def _indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY 1", [TABLE]
        )
        return cursor.fetchall()


def _versions() -> dict[str, tuple]:
    """Each MSISDN's (status, updated_at, change_xid): what incremental reconciliation reads."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT msisdn, status, updated_at, change_xid FROM {TABLE}")  # noqa: S608
        return {msisdn: rest for msisdn, *rest in cursor.fetchall()}


@pytest.fixture
def large_writes(settings):
    """Every write counts as large: the index rebuild runs on a file of a few rows."""
    settings.OPERATORDB_LOAD_REBUILD_INDEXES_FROM = 1


def test_a_first_load_builds_the_read_indexes_again_and_writes_one_change_sequence(
    db, tmp_path, large_writes
):
    indexes = _indexes()
    assert len(indexes) >= 5  # the unique MSISDN, the digest, the change sequence, ...

    report = load_snapshot(_write(tmp_path, [_row(i) for i in range(50)]))

    assert (report.rows, report.inserted, report.updated, report.deactivated) == (50, 50, 0, 0)
    assert _indexes() == indexes  # the same names and definitions, built again
    versions = _versions()
    assert len(versions) == 50
    # One load, one transaction: one change sequence value.
    assert len({xid for _status, _at, xid in versions.values()}) == 1
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE id_number_digest <> ''")  # noqa: S608
        assert cursor.fetchone()[0] == 50
    # The rebuilt indexes serve the reads they are for.
    assert list(OperatorSubscriber.objects.filter(msisdn="6281200000007").values_list("id"))


def test_a_reload_that_removes_most_rows_moves_only_what_changed(
    transactional_db, tmp_path, large_writes
):
    # (Committed loads: each has its own transaction, so its own change sequence value.)
    load_snapshot(_write(tmp_path, [_row(i) for i in range(50)]))
    before = _versions()
    indexes = _indexes()

    # Row 0 renamed, rows 20-49 no longer listed (31 of 50 rows change: a large write).
    rows = [_row(0, "Siti Rahmawati")] + [_row(i) for i in range(1, 20)]
    # (60 % of the active numbers ended: past the guard against a truncated export.)
    report = load_snapshot(_write(tmp_path, rows, "reload.csv"), allow_mass_deactivation=True)

    assert (report.inserted, report.updated, report.unchanged, report.deactivated) == (
        0,
        1,
        19,
        30,
    )
    after = _versions()
    assert set(after) == set(before)  # absent numbers are kept, not deleted
    changed = {m for m in after if after[m] != before[m]}
    assert changed == {"6281200000000"} | {f"628120000{i:04d}" for i in range(20, 50)}
    for msisdn in changed:
        status, updated_at, xid = after[msisdn]
        assert updated_at > before[msisdn][1] and xid != before[msisdn][2]
        assert status == ("active" if msisdn == "6281200000000" else "inactive")
    assert OperatorSubscriber.objects.get(msisdn="6281200000000").full_name == "Siti Rahmawati"
    assert _indexes() == indexes

    # The same file again: nothing moves.
    again = load_snapshot(_write(tmp_path, rows, "again.csv"))
    assert (again.updated, again.inserted, again.deactivated, again.unchanged) == (0, 0, 0, 20)
    assert _versions() == after


def test_a_first_load_with_a_number_twice_is_reported_and_leaves_the_table_as_it_was(
    db, tmp_path, large_writes
):
    # The first load drops the MSISDN's unique constraint for its COPY and adds it back after:
    # the duplicate fails that, and the staging path reports it by line.
    indexes = _indexes()
    rows = [_row(i) for i in range(40)]
    rows[30] = _row(12, "Siti Rahmawati")  # line 32: the number of line 14, another name

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(_write(tmp_path, rows))

    assert [(e.line, e.field, e.reason) for e in exc.value.report.errors] == [
        (32, "msisdn", "the same number as line 14")
    ]
    assert not OperatorSubscriber.objects.exists()
    assert _indexes() == indexes  # the constraint and the read indexes, as they were

    # Without the repeated line the same load goes straight in, and the number stays unique.
    del rows[30]
    assert load_snapshot(_write(tmp_path, rows, "fixed.csv")).inserted == 39
    assert _indexes() == indexes
    with pytest.raises(IntegrityError), transaction.atomic():
        OperatorSubscriber.objects.create(msisdn="6281200000012", status="inactive")


def test_a_first_load_with_a_bad_row_and_a_number_twice_reports_both(db, tmp_path, large_writes):
    rows = [_row(i) for i in range(40)]
    rows[8] = _row(8).replace("1990-08-17", "1990-02-30")  # line 10: no such day
    rows[30] = _row(12)  # line 32: the number of line 14

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(_write(tmp_path, rows))

    assert [(e.line, e.field, e.reason) for e in exc.value.report.errors] == [
        (10, "birth_date", "not a date (YYYY-MM-DD)"),
        (32, "msisdn", "the same number as line 14"),
    ]
    assert not OperatorSubscriber.objects.exists()


@pytest.mark.parametrize(
    ("bad", "fault"),
    [
        # A day that does not exist: the cast refuses it, and the careful checks report it.
        (
            lambda i: _row(i).replace("2025-03-01T", "2025-02-30T"),
            ("activated_at", snapshot._NOT_A_TIMESTAMP),
        ),
        (
            lambda i: _row(i).replace("1990-08-17", "1990-02-29"),
            ("birth_date", "not a date (YYYY-MM-DD)"),
        ),
        # A check digit that does not match.
        (
            lambda i: _row(i).replace(_iccid(i), _iccid(i)[:-1] + str(9 - int(_iccid(i)[-1]))),
            ("iccid", "the ICCID's check digit does not match"),
        ),
        # The same number as an earlier line.
        (lambda i: _row(3), ("msisdn", "the same number as line 5")),
    ],
)
def test_a_bad_row_in_the_middle_rejects_the_file_and_keeps_the_previous_snapshot(
    db, tmp_path, large_writes, bad, fault
):
    load_snapshot(_write(tmp_path, [_row(i) for i in range(60)]))
    stored = list(OperatorSubscriber.objects.order_by("msisdn").values())
    versions, indexes = _versions(), _indexes()

    # Every row changed (a large write), one of them bad, in the middle of the file.
    rows = [_row(i, "Budi Santoso") for i in range(120)]
    rows[70] = bad(70)
    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(_write(tmp_path, rows, "bad.csv"))

    assert [(e.line, e.field, e.reason) for e in exc.value.report.errors] == [(72, *fault)]
    assert list(OperatorSubscriber.objects.order_by("msisdn").values()) == stored
    assert _versions() == versions
    assert _indexes() == indexes


def test_the_checks_of_a_good_file_agree_with_the_rules_on_valid_days(db, tmp_path):
    """Every day exists (so the load does not fall back to the careful checks): the times, the
    offsets, the check digits and the lengths decide, as the rules decide them."""
    from operatordb.snapshot import LoadReport, _Errors, load_rows, read_rows

    rng = random.Random(23)

    def day():
        year, month = rng.choice([2024, 2000, 2023]), rng.randint(1, 12)
        top = {2: 28 + (year != 2023), 4: 30, 6: 30, 9: 30, 11: 30}.get(month, 31)
        return f"{year}-{month:02d}-{rng.randint(1, top):02d}"

    def timestamp():
        # (Offsets up to 15:59 with minutes below 60: PostgreSQL refuses others Python accepts.)
        fraction = rng.choice(["", "." + "7" * rng.randint(1, 7)])
        seconds = rng.choice(["", f":{rng.choice([0, 59, 60, 61, 99]):02d}{fraction}"])
        offset = rng.choice(
            [
                "Z",
                f"{rng.choice('+-')}{rng.choice([0, 7, 14, 15]):02d}:{rng.choice([0, 30, 59]):02d}",
            ]
        )
        return (
            f"{day()}{rng.choice('T ')}{rng.choice([0, 9, 23, 24, 29]):02d}"
            f":{rng.choice([0, 59, 60, 99]):02d}{seconds}{offset}"
        )

    rows = []
    for i in range(500):
        prefix = "89" + "".join(rng.choices(string.digits, k=rng.randint(15, 17)))
        good = luhn_completed(prefix)
        iccid = rng.choice([good, good[:-1] + str((int(good[-1]) + 1) % 10), ""])
        issued, ended = rng.choice([("", ""), (timestamp(), ""), (timestamp(), timestamp())])
        status = "inactive" if ended or rng.random() < 0.3 else "active"
        rows.append(
            f"62812{i:08d},{iccid},{status},{timestamp()},,,,,{rng.choice([day(), ''])},"
            f"{issued},{ended}"
        )
    path = _write(tmp_path, rows, "edges.csv")

    try:
        load_snapshot(path)
    except SnapshotRejected as exc:
        bulk = exc.report
    else:
        bulk = LoadReport()
    assert not OperatorSubscriber.objects.exists()  # the rejected file wrote nothing
    stream = LoadReport()
    with open(path, encoding="utf-8", newline="") as fh, contextlib.suppress(SnapshotRejected):
        load_rows(read_rows(fh, _Errors(stream)), report=stream)

    assert stream.error_count > 100
    assert bulk.errors == stream.errors
    # The good rows alone load, as the rules store them.
    bad_lines = {e.line for e in stream.errors}
    good_rows = [row for line, row in enumerate(rows, start=2) if line not in bad_lines]
    good_path = _write(tmp_path, good_rows, "good.csv")
    assert load_snapshot(good_path).inserted == len(good_rows)
    by_sql = sorted(OperatorSubscriber.objects.values_list(*snapshot.STORED, "status"))
    OperatorSubscriber.objects.all().delete()
    with open(good_path, encoding="utf-8", newline="") as fh:
        load_rows(read_rows(fh, _Errors(LoadReport())))
    assert by_sql == sorted(OperatorSubscriber.objects.values_list(*snapshot.STORED, "status"))


def test_the_check_digit_is_the_rules_on_many_iccids(db, tmp_path):
    """Every other field valid: each ICCID of 18 to 20 digits is accepted or refused as the
    rules decide (the quick checks add looked-up sums of four digits)."""
    from operatordb.snapshot import LoadReport, _Errors, load_rows, read_rows

    rng = random.Random(5)
    rows = []
    for i in range(400):
        prefix = "89" + "".join(rng.choices(string.digits, k=rng.randint(15, 17)))
        good = luhn_completed(prefix)
        iccid = rng.choice([good, good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)])
        rows.append(_row(i).replace(_iccid(i), iccid))
    path = _write(tmp_path, rows)
    try:
        load_snapshot(path)
    except SnapshotRejected as exc:
        bulk = exc.report
    stream = LoadReport()
    with open(path, encoding="utf-8", newline="") as fh, contextlib.suppress(SnapshotRejected):
        load_rows(read_rows(fh, _Errors(stream)), report=stream)

    assert 100 < stream.error_count < 300
    assert {e.field for e in stream.errors} == {"iccid"}
    assert bulk.errors == stream.errors


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-03-01T24:00Z",  # PostgreSQL reads midnight of the next day, the rules refuse it
        "2024-03-01 24:00:00+07:00",
        "2024-03-01T10:00:60Z",  # a leap second for PostgreSQL
        "2024-03-01T10:00:60.5+07:00",
        "2024-03-01T10:00:59+15:00",  # valid for both: the rules' form, not the quick checks'
        "2024-03-01T10:00:00+14:60",  # Python reads +15:00, PostgreSQL refuses it
        "2024-03-01T10:00:00-16:00",  # beyond any offset PostgreSQL reads
        "2024-03-01T10:00:00+0799",
    ],
)
def test_what_postgresql_reads_but_the_rules_refuse_is_refused(db, tmp_path, timestamp):
    from operatordb.snapshot import LoadReport, _Errors, load_rows, read_rows

    rows = [_row(i) for i in range(5)]
    rows[2] = rows[2].replace("2025-03-01T10:02:00+07:00", timestamp)
    path = _write(tmp_path, rows)
    try:
        load_snapshot(path)
    except SnapshotRejected as exc:
        bulk = exc.report
    else:
        bulk = LoadReport()
    by_sql = sorted(OperatorSubscriber.objects.values_list(*snapshot.STORED, "status"))
    OperatorSubscriber.objects.all().delete()
    stream = LoadReport()
    with open(path, encoding="utf-8", newline="") as fh, contextlib.suppress(SnapshotRejected):
        load_rows(read_rows(fh, _Errors(stream)), report=stream)

    assert bulk.errors == stream.errors
    assert by_sql == sorted(OperatorSubscriber.objects.values_list(*snapshot.STORED, "status"))
    assert len(bulk.errors) == (0 if timestamp.endswith("+15:00") else 1)


@pytest.mark.parametrize("impossible_day", [False, True])
def test_the_digest_key_never_reaches_the_database(
    db, tmp_path, settings, large_writes, impossible_day
):
    """The keyed digests are computed in the loading processes (as ``core.pii`` computes them):
    no statement the load sends holds the key, nor asks the database for an HMAC — a good file
    or one whose bad row makes the rules report it."""
    settings.ID_DIGEST_KEY = "kunci-rahasia-digest-0123456789"
    rows = [_row(i) for i in range(30)]
    if impossible_day:
        rows[10] = rows[10].replace("1990-08-17", "1990-02-30")
    sent = []

    def record(execute, sql, params, many, context):
        sent.append(f"{sql} {params!r}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record), contextlib.suppress(SnapshotRejected):
        load_snapshot(_write(tmp_path, rows))

    assert sent and not [statement for statement in sent if "hmac(" in statement.lower()]
    key = settings.ID_DIGEST_KEY
    for form in (key, key.encode().hex(), key.upper()):
        assert not [statement for statement in sent if form in statement]
    assert OperatorSubscriber.objects.count() == (0 if impossible_day else 30)
    if not impossible_day:
        from core import pii

        stored = OperatorSubscriber.objects.get(msisdn="6281200000007").id_number_digest
        assert stored == pii.digest("3171015708000007")
