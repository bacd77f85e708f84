"""Hostile snapshot files: each is rejected whole with its faults by line, field and reason (or,
where the rule says so, loaded), the command says what went wrong without a traceback, and
nothing is written."""

import builtins
import csv
import errno
import io
import os
import random

import pytest
from django.core.management import CommandError, call_command

from compliance.reconciliation.rules import names_match
from core import pii
from core.masking import mask_id_number
from identity.idrules import normalize_name_for_comparison
from operatordb import snapshot
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import SnapshotRejected, load_snapshot

from .snapshot_files import row, write


def _command(*args):
    """(exit status, stdout, stderr) of ``load_operator_snapshot`` as a user runs it."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("load_operator_snapshot", *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        err.write(f"CommandError: {exc}\n")
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_a_directory_is_said_so_without_a_traceback(db, tmp_path):
    load_snapshot(write(tmp_path, [row(1)]))
    folder = tmp_path / "adir"
    folder.mkdir()

    status, _out, err = _command(folder)

    assert status == 2
    assert f"Cannot open {folder}: Is a directory" in err
    assert OperatorSubscriber.objects.count() == 1


def test_an_unreadable_file_is_said_so_without_a_traceback(db, tmp_path, monkeypatch):
    path = write(tmp_path, [row(1)])
    if os.geteuid() == 0:  # root reads any file: the refusal as the system would give it
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
    else:
        path.chmod(0)

    status, _out, err = _command(path)

    assert status == 2
    assert f"Cannot open {path}: Permission denied" in err
    assert not OperatorSubscriber.objects.exists()


FIELDS = (
    "msisdn", "iccid", "status", "activated_at", "outlet_roid", "id_type", "id_number",
    "full_name", "birth_date", "issued_at", "deactivated_at",
)  # fmt: skip


def _with(i: int, field: str, value: str, *, quoted: bool = False) -> str:
    """Line ``i`` of the export with ``field`` set to ``value`` (quoted: the file then goes
    through the streaming pass, which reads CSV's quotes)."""
    values = row(i).split(",")
    values[FIELDS.index(field)] = f'"{value}"' if quoted else value
    return ",".join(values)


@pytest.fixture(params=["first load", "reload"])
def loaded(request, db, tmp_path):
    """The table empty (a file's first load goes straight into it) or holding an earlier
    snapshot (a reload converts only its changed lines): what is there before, to compare."""
    if request.param == "reload":
        load_snapshot(write(tmp_path, [row(i) for i in range(1, 4)], "earlier.csv"))
    return list(OperatorSubscriber.objects.order_by("msisdn").values())


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize(
    ("field", "value"),
    [("full_name", "Budi\x00Santoso"), ("id_number", "3171\x00011708900350")],
)
def test_a_nul_in_a_name_or_id_number_rejects_the_file_at_its_field(
    loaded, tmp_path, field, value, quoted
):
    """The tester's file: a NUL inside a name (or the first digits of an ID number, which the
    masked copy keeps) — the line, the field and the reason, nothing written, no traceback."""
    lines = [row(1), _with(2, field, value, quoted=quoted), row(3)]

    status, _out, err = _command(write(tmp_path, lines, "nul.csv"))

    assert status == 1
    assert f"line 3, {field}: a control character (U+0000) is not allowed" in err
    assert "1 bad row(s)" in err and "nothing was loaded" in err
    assert list(OperatorSubscriber.objects.order_by("msisdn").values()) == loaded


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("msisdn", "6281200\x00000002"),
        ("iccid", "8962100000000\x00000029"),
        ("status", "act\x00ive"),
        ("activated_at", "2025-03-01T10:02:00\x00+07:00"),
        ("outlet_roid", "RO31\x00000002"),
        ("id_type", "k\x00tp"),
        ("id_number", "\x003171015708000002"),
        ("id_number", "3171015708000002\x07"),
        ("full_name", "\x00"),
        ("full_name", "Siti\x1bRahma"),
        ("full_name", "Siti\x7fRahma"),
        ("full_name", "Siti\x85\x9fRahma"),
        ("birth_date", "1990-08-1\x007"),
        ("issued_at", "2024-01-01T00:00:00\x00Z"),
        ("deactivated_at", "\x00"),
    ],
)
def test_a_control_character_in_any_field_is_that_fields_fault(
    loaded, tmp_path, field, value, quoted
):
    path = write(tmp_path, [row(1), _with(2, field, value, quoted=quoted)], "control.csv")

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(path)

    assert [(e.line, e.field) for e in exc.value.report.errors] == [(3, field)]
    assert list(OperatorSubscriber.objects.order_by("msisdn").values()) == loaded


def test_spaces_of_every_kind_in_a_name_are_still_tidied_not_refused(db, tmp_path):
    path = write(tmp_path, [_with(1, "full_name", "Siti\tNur\x1f\x85Rahma\u00a0 ")])
    load_snapshot(path)
    assert OperatorSubscriber.objects.get().full_name == "Siti Nur Rahma"


# --- a field longer than the csv module reads, a record over several lines ---------------------


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize(
    ("field", "reason"),
    [("full_name", "at most 100 characters"), ("id_number", "must be 1 to 40 characters")],
)
def test_a_field_longer_than_the_csv_limit_is_that_fields_fault(
    loaded, tmp_path, field, reason, quoted
):
    """200 000 characters (the csv module gives up past 131 072): said as a long name is."""
    huge = "x" * 200_000 if field == "full_name" else "1" * 200_000
    lines = [row(1), _with(2, field, huge, quoted=quoted), row(3)]

    status, _out, err = _command(write(tmp_path, lines, "huge.csv"))

    assert status == 1
    assert f"line 3, {field}: {reason}" in err
    assert "1 bad row(s)" in err
    assert list(OperatorSubscriber.objects.order_by("msisdn").values()) == loaded


def test_a_long_quoted_field_over_lines_is_one_records_fault(db, tmp_path):
    """A quoted name of 300 000 characters over three lines: one fault at the record's first
    line; the lines after it are read as the records they are."""
    name = '"' + "y" * 100_000 + "\n" + "z" * 100_000 + "\n" + "w" * 100_000 + '"'
    lines = [row(1), _with(2, "full_name", name), row(3), _with(4, "status", "sleeping")]

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(write(tmp_path, lines, "long.csv"))

    report = exc.value.report
    assert report.rows == 4
    assert [(e.line, e.field, e.reason) for e in report.errors] == [
        (3, "full_name", "at most 100 characters"),
        (7, "status", "must be 'active' or 'inactive'"),
    ]
    assert not OperatorSubscriber.objects.exists()


def test_a_quote_left_open_past_any_record_stops_the_reading(db, tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot, "MAX_RECORD_CHARS", 300_000)
    lines = [row(1), _with(2, "full_name", '"' + "y" * 200_000), *("x" * 50_000,) * 3, row(3)]

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(write(tmp_path, lines, "open.csv"))

    assert [(e.line, e.field) for e in exc.value.report.errors] == [(3, "row")]
    assert "a quote left open?" in exc.value.report.errors[0].reason
    assert not OperatorSubscriber.objects.exists()


def test_past_the_csv_limit_records_are_read_as_the_csv_module_reads_them(monkeypatch):
    """``_Lines.record_values`` (the reading of a record the csv module gave up on) gives the
    fields the csv module gives without its limit, on many random records."""
    rng = random.Random(5)
    pieces = ["a", "b", ",", '"', '""', "\n", "\r\n", "\r", " ", "\x00", "é"]
    for _ in range(3000):
        text = "".join(rng.choices(pieces, k=rng.randint(0, 14)))
        stream = io.StringIO(text, newline="")
        expected = list(csv.reader(io.StringIO(text, newline="")))
        lines = snapshot._Lines(stream)
        got = []
        while True:
            lines.record.clear()
            # What read_rows hands over: the record's first line taken by the reader.
            try:
                next(lines)
            except StopIteration:
                break
            got.append(lines.record_values())
        assert got == expected, repr(text)


def test_a_record_over_several_lines_is_reported_at_its_first_line(db, tmp_path):
    """As the import reports it: the record's first physical line, for its own faults and for
    a duplicate of its number."""
    lines = [
        row(1),
        _with(2, "full_name", '"Siti\nNur\nRahma"').replace(row(2).split(",")[1], "123"),
        row(3),
        _with(4, "full_name", '"Budi\r\nSantoso"').replace(row(4).split(",")[0], row(1)[:13]),
    ]

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(write(tmp_path, lines, "multiline.csv"))

    assert [(e.line, e.field) for e in exc.value.report.errors] == [(3, "iccid"), (7, "msisdn")]
    assert exc.value.report.errors[1].reason == "the same number as line 2"
    assert not OperatorSubscriber.objects.exists()


def test_a_header_field_longer_than_the_csv_limit_is_a_wrong_header(db, tmp_path):
    path = write(tmp_path, [row(1)], header="msisdn," + "x" * 200_000 + "\n")
    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(path)
    assert [(e.line, e.field) for e in exc.value.report.errors] == [(1, "header")]


# --- a name whose comparison key is longer than the name ----------------------------------------

LONG_KEYED = "\ufdfa" * 10  # 10 characters the portal accepts in a name; its key: 150 letters


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
def test_a_name_whose_key_is_longer_than_100_characters_loads_with_its_whole_key(
    loaded, tmp_path, quoted
):
    """The key is stored whole, the key reconciliation computes from the portal's name: the
    same name matches, on the first load, a reload and the streaming pass alike."""
    lines = [row(1), _with(2, "full_name", LONG_KEYED, quoted=quoted), row(3)]

    status, out, err = _command(write(tmp_path, lines, "long-key.csv"))

    assert status == 0, err
    assert "Loaded 3 rows" in out
    stored = OperatorSubscriber.objects.get(msisdn=row(2)[:13])
    assert stored.full_name == LONG_KEYED
    assert stored.name_key == normalize_name_for_comparison(LONG_KEYED)
    assert len(stored.name_key) == 150
    assert names_match(LONG_KEYED, stored.name_key)
    assert not names_match("\ufdfa" * 9 + "\ufdfb", stored.name_key)


# --- ID numbers in digits of another script -----------------------------------------------------

NIK = "3171011708900350"


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize(
    "written",
    [
        NIK,
        NIK.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),  # Arabic-Indic
        NIK.translate(str.maketrans("0123456789", "０１２３４５６７８９")),  # fullwidth
        NIK.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),  # Extended Arabic-Indic
        "३१७१" + NIK[4:],  # Devanagari, in part
        "٣١٧١ ٠١١٧-٠٨٩٠.٠٣٥٠",  # and separators
    ],
)
def test_a_nik_in_digits_of_another_script_is_the_portals_nik(loaded, tmp_path, written, quoted):
    """The operator's record of the NIK the portal holds, whatever its digits: the digest the
    registration's NIK has (so reconciliation finds no id_number_mismatch) and an ASCII masked
    copy for the outlet to read."""
    lines = [row(1), _with(2, "id_number", written, quoted=quoted), row(3)]

    status, _out, err = _command(write(tmp_path, lines, "digits.csv"))

    assert status == 0, err
    stored = OperatorSubscriber.objects.get(msisdn=row(2)[:13])
    assert stored.id_number_digest == pii.id_digest("ktp", NIK)
    assert stored.id_number_masked == "3171********0350"


def test_a_nik_that_is_no_number_is_the_operators_record_as_it_is(db, tmp_path):
    """Not refused: the operator's file is its record, and a whole day's file is not thrown away
    for one odd NIK; reconciliation reports the NIK that differs from the portal's, which the
    outlet sees as it is written."""
    load_snapshot(write(tmp_path, [_with(1, "id_number", "not-a-nik")]))

    stored = OperatorSubscriber.objects.get()
    assert stored.id_number_digest == pii.id_digest("ktp", "not-a-nik") != pii.id_digest("ktp", NIK)
    assert stored.id_number_masked == mask_id_number("notanik")
