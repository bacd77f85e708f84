"""A reload of the operator's snapshot converts only the lines that changed (PostgreSQL).

Every stored row carries the keyed fingerprint of the line it was written from; a reload
fingerprints every line first and checks, converts and writes only the lines no stored row
carries the fingerprint of. What a user of the loader sees must not change with it: the same
rows stored, the same counts, the same faults (line, field, reason) as a load converting every
line, and a row changed by anything but the loader is written back from the file.
"""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from operatordb import snapshot
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import SnapshotRejected, load_snapshot

from .snapshot_files import HEADER, TABLE
from .snapshot_files import row as _row
from .snapshot_files import write as _write

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the set-based load is PostgreSQL's"
)


def _stored() -> dict[str, tuple]:
    """Each MSISDN's stored values with its updated_at and change sequence."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT msisdn, status, iccid, full_name, name_key, id_number_digest,"  # noqa: S608
            f" id_number_masked, activated_at, updated_at, change_xid FROM {TABLE}"
        )
        return {msisdn: tuple(rest) for msisdn, *rest in cursor.fetchall()}


def _fingerprints() -> dict[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT msisdn, line_fingerprint FROM {TABLE}")  # noqa: S608
        return dict(cursor.fetchall())


@pytest.fixture(params=[0, 2], ids=["in-process", "two-workers"])
def workers(request, settings, monkeypatch):
    """In this process (a file of one chunk) and in two worker processes (chunks of ~5 lines)."""
    settings.OPERATORDB_LOAD_WORKERS = request.param
    if request.param:
        monkeypatch.setattr(snapshot, "CHUNK_BYTES", 512)
    return request.param


def test_a_reload_converts_and_writes_only_the_changed_lines(transactional_db, tmp_path, workers):
    rows = [_row(i) for i in range(40)]
    first = load_snapshot(_write(tmp_path, rows))
    assert (first.rows, first.inserted, first.converted) == (40, 40, 40)
    assert None not in _fingerprints().values()
    before = _stored()

    again = load_snapshot(_write(tmp_path, rows, "again.csv"))
    assert (again.rows, again.converted, again.inserted, again.updated, again.unchanged) == (
        40,
        0,
        0,
        0,
        40,
    )
    assert _stored() == before

    changed = list(rows)
    changed[7] = _row(7, "Siti Rahmawati")  # renamed
    changed[21] = _row(21).replace(",active,", ",inactive,")  # deactivated by the operator
    changed.append(_row(40))  # a new number
    del changed[30]  # no longer listed
    report = load_snapshot(_write(tmp_path, changed, "changed.csv"))

    assert (report.rows, report.converted) == (40, 3)
    assert (report.inserted, report.updated, report.unchanged, report.deactivated) == (1, 2, 37, 1)
    after = _stored()
    moved = {m for m in after if after[m] != before.get(m)}
    assert moved == {"6281200000007", "6281200000021", "6281200000030", "6281200000040"}
    assert after["6281200000007"][2] == "Siti Rahmawati"
    assert after["6281200000021"][0] == after["6281200000030"][0] == "inactive"
    # The rows written hold what a load converting every line stores.
    OperatorSubscriber.objects.all().delete()
    load_snapshot(_write(tmp_path, changed, "whole.csv"))
    whole = _stored()
    assert {m: v[:7] for m, v in whole.items()} == {
        m: v[:7] for m, v in after.items() if m != "6281200000030"
    }


def test_a_row_changed_by_anything_but_the_loader_is_written_back_from_the_file(
    transactional_db, tmp_path, workers
):
    rows = [_row(i) for i in range(20)]
    load_snapshot(_write(tmp_path, rows))
    # The mock network (or an admin, or a key rotation) changes two rows.
    OperatorSubscriber.objects.filter(msisdn="6281200000003").update(full_name="Orang Lain")
    row = OperatorSubscriber.objects.get(msisdn="6281200000011")
    row.status = "inactive"
    row.save()
    assert _fingerprints()["6281200000003"] is None
    assert _fingerprints()["6281200000011"] is None

    report = load_snapshot(_write(tmp_path, rows, "again.csv"))

    assert (report.converted, report.updated, report.unchanged) == (2, 2, 18)
    assert OperatorSubscriber.objects.get(msisdn="6281200000003").full_name == "Siti Rahma"
    assert OperatorSubscriber.objects.get(msisdn="6281200000011").status == "active"
    assert None not in _fingerprints().values()
    assert load_snapshot(_write(tmp_path, rows, "third.csv")).converted == 0


@pytest.mark.parametrize(
    ("edit", "faults"),
    [
        # An unchanged line written twice: both are converted, the second reported.
        (lambda rows: rows.insert(12, rows[4]), [(14, "msisdn", "the same number as line 6")]),
        # A changed line with the number of an unchanged (not converted) one, after it ...
        (
            lambda rows: rows.insert(12, _row(99, number="6281200000004")),
            [(14, "msisdn", "the same number as line 6")],
        ),
        # ... and before it.
        (
            lambda rows: rows.insert(1, _row(99, number="6281200000004")),
            [(7, "msisdn", "the same number as line 3")],
        ),
        # A bad line among unchanged ones.
        (
            lambda rows: rows.__setitem__(9, _row(9).replace("1990-08-17", "1990-02-30")),
            [(11, "birth_date", "not a date (YYYY-MM-DD)")],
        ),
    ],
    ids=["line-twice", "changed-after-unchanged", "changed-before-unchanged", "bad-line"],
)
def test_faults_of_a_reload_are_those_of_a_load_converting_every_line(
    transactional_db, tmp_path, workers, edit, faults
):
    rows = [_row(i) for i in range(20)]
    load_snapshot(_write(tmp_path, rows))
    before = _stored()
    edited = list(rows)
    edit(edited)
    path = _write(tmp_path, edited, "edited.csv")

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(path)
    assert [(e.line, e.field, e.reason) for e in exc.value.report.errors] == faults
    assert _stored() == before

    # The same faults from an empty table, where every line is converted.
    OperatorSubscriber.objects.all().delete()
    with pytest.raises(SnapshotRejected) as whole:
        load_snapshot(path)
    assert [(e.line, e.field, e.reason) for e in whole.value.report.errors] == faults


def test_a_delta_feed_of_unchanged_lines_deactivates_nothing(transactional_db, tmp_path):
    load_snapshot(_write(tmp_path, [_row(i) for i in range(10)]))
    report = load_snapshot(_write(tmp_path, [_row(2), _row(5, "Budi")], "delta.csv"), full=False)
    assert (report.converted, report.updated, report.unchanged, report.deactivated) == (1, 1, 1, 0)
    assert not OperatorSubscriber.objects.filter(status="inactive").exists()


def test_a_row_written_back_as_it_was_takes_the_lines_fingerprint_without_moving(
    transactional_db, tmp_path
):
    rows = [_row(i) for i in range(10)]
    load_snapshot(_write(tmp_path, rows))
    # A line written another way that the rules store the same (a local number, 08…).
    other = list(rows)
    other[4] = _row(4).replace("6281200000004", "081200000004", 1)
    before = _stored()

    report = load_snapshot(_write(tmp_path, other, "other.csv"))

    assert (report.converted, report.updated, report.unchanged) == (1, 0, 10)
    assert _stored() == before  # nothing for reconciliation to read again
    assert load_snapshot(_write(tmp_path, other, "again.csv")).converted == 0


def test_a_new_digest_key_converts_every_line_again_once(transactional_db, tmp_path, settings):
    rows = [_row(i) for i in range(10)]
    load_snapshot(_write(tmp_path, rows))
    settings.ID_DIGEST_KEY = "another key of the portal, long enough to be one"

    report = load_snapshot(_write(tmp_path, rows, "again.csv"))

    # Every digest is the new key's now: all ten rows change (and take the new fingerprints).
    assert (report.converted, report.updated) == (10, 10)
    assert load_snapshot(_write(tmp_path, rows, "third.csv")).converted == 0


def test_a_reload_changing_every_line_updates_every_row_and_the_next_converts_none(
    transactional_db, tmp_path
):
    """Past half of the file changed, the reload stages every line (the regular path): every
    row takes its new values and its line's fingerprint, so the same file next converts none."""
    load_snapshot(_write(tmp_path, [_row(i) for i in range(10)]))
    renamed = [_row(i, "Budi") for i in range(10)]

    report = load_snapshot(_write(tmp_path, renamed, "b.csv"))

    assert (report.rows, report.converted, report.updated) == (10, 10, 10)
    assert set(OperatorSubscriber.objects.values_list("full_name", flat=True)) == {"Budi"}
    assert load_snapshot(_write(tmp_path, renamed, "c.csv")).converted == 0


def test_a_line_back_in_the_file_after_it_was_absent_is_active_again(transactional_db, tmp_path):
    rows = [_row(i) for i in range(10)]
    load_snapshot(_write(tmp_path, rows))
    gone = load_snapshot(_write(tmp_path, rows[:6] + rows[7:], "gone.csv"))
    assert gone.deactivated == 1
    assert OperatorSubscriber.objects.get(msisdn="6281200000006").status == "inactive"

    back = load_snapshot(_write(tmp_path, rows, "back.csv"))

    assert (back.converted, back.updated) == (1, 1)
    assert OperatorSubscriber.objects.get(msisdn="6281200000006").status == "active"


def test_new_rules_code_converts_every_line_again_once(transactional_db, tmp_path, monkeypatch):
    rows = [_row(i) for i in range(10)]
    load_snapshot(_write(tmp_path, rows))
    # A deploy that changed the code turning a line into a row (its source's hash).
    monkeypatch.setattr(snapshot, "_code_version", lambda: "the rules of a later release")

    report = load_snapshot(_write(tmp_path, rows, "again.csv"))

    assert (report.converted, report.updated, report.unchanged) == (10, 0, 10)
    assert load_snapshot(_write(tmp_path, rows, "third.csv")).converted == 0


def test_the_same_rows_in_another_column_order_are_converted_and_left_as_they_are(
    transactional_db, tmp_path
):
    rows = [_row(i) for i in range(10)]
    load_snapshot(_write(tmp_path, rows))
    before = _stored()
    # The optional columns swapped: the same values, other lines.
    header = HEADER.replace("issued_at,deactivated_at", "deactivated_at,issued_at")
    swapped = _write(tmp_path, rows, "swapped.csv", header=header)

    report = load_snapshot(swapped)

    assert (report.converted, report.updated, report.unchanged) == (10, 0, 10)
    assert _stored() == before


def test_the_command_says_how_many_lines_it_checked(transactional_db, tmp_path):
    rows = [_row(i) for i in range(10)]
    call_command("load_operator_snapshot", str(_write(tmp_path, rows)), stdout=io.StringIO())
    rows[3] = _row(3, "Siti Rahmawati")
    out = io.StringIO()

    call_command("load_operator_snapshot", str(_write(tmp_path, rows, "b.csv")), stdout=out)

    assert "0 new, 1 changed, 9 unchanged" in out.getvalue()
    assert "1 line(s) checked and converted" in out.getvalue()
