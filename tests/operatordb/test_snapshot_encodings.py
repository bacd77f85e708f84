"""A snapshot that is not UTF-8: a line holding other bytes is reported at its line (field
``row``, "not UTF-8 text") as any bad row, every such line; a file that is no UTF-8 text at all
(UTF-16, UTF-32, gzip, ZIP) is said so plainly. Nothing is written either way."""

import gzip
import io

import pytest
from django.core.management import CommandError, call_command

from operatordb.models import OperatorSubscriber
from operatordb.snapshot import RowError, SnapshotRejected, load_snapshot

from .snapshot_files import HEADER, row, write


def _faults(path):
    with pytest.raises(SnapshotRejected) as rejected:
        load_snapshot(path)
    assert not OperatorSubscriber.objects.exists()
    return rejected.value.report.errors


@pytest.mark.parametrize("first_load", [True, False])
def test_each_line_that_is_not_utf8_is_reported_at_its_line(db, tmp_path, first_load):
    if not first_load:
        load_snapshot(write(tmp_path, [row(i) for i in range(6)], "before.csv"))
        OperatorSubscriber.objects.update(full_name="Before")
    before = list(OperatorSubscriber.objects.values_list("msisdn", "full_name", "updated_at"))
    rows = [row(i) for i in range(6)]
    rows[1] = row(1, name="Jos\udce9 Ram\udcedrez")  # Latin-1 é and í
    rows[4] = row(4, name="Bad \udcff") + "x"  # and a fault after it: the row is refused whole
    path = write(tmp_path, rows)

    with pytest.raises(SnapshotRejected) as rejected:
        load_snapshot(path)

    assert rejected.value.report.errors == [
        RowError(3, "row", "not UTF-8 text"),
        RowError(6, "row", "not UTF-8 text"),
    ]
    assert list(OperatorSubscriber.objects.values_list("msisdn", "full_name", "updated_at")) == (
        before
    )


def test_a_quoted_record_over_lines_is_reported_at_its_first_line(db, tmp_path):
    rows = [row(0), row(1, name='"Siti\nRahm\udce1"'), row(2)]
    assert _faults(write(tmp_path, rows)) == [RowError(3, "row", "not UTF-8 text")]


def _encoded(tmp_path, data: bytes, name="snapshot.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


TEXT = HEADER + row(0) + "\n" + row(1) + "\n"
NOT_TEXT = [
    (
        "utf-16-le-bom",
        b"\xff\xfe" + TEXT.encode("utf-16-le"),
        "the file is UTF-16: save it as UTF-8",
    ),
    (
        "utf-16-be-bom",
        b"\xfe\xff" + TEXT.encode("utf-16-be"),
        "the file is UTF-16: save it as UTF-8",
    ),
    ("utf-16-le", TEXT.encode("utf-16-le"), "the file is UTF-16: save it as UTF-8"),
    ("utf-32", TEXT.encode("utf-32"), "the file is UTF-32: save it as UTF-8"),
    ("gzip", gzip.compress(TEXT.encode()), "the file is compressed (gzip): unpack it first"),
    (
        "zip",
        b"PK\x03\x04\x14\x00\x00\x00",
        "the file is a ZIP archive (an Excel workbook?): save it as CSV UTF-8",
    ),
]


@pytest.mark.parametrize(
    ("data", "reason"), [c[1:] for c in NOT_TEXT], ids=[c[0] for c in NOT_TEXT]
)
def test_a_file_that_is_no_utf8_text_is_said_so(db, tmp_path, capsys, data, reason):
    path = _encoded(tmp_path, data)
    assert _faults(path) == [RowError(1, "file", reason)]

    with pytest.raises(CommandError) as refused:
        call_command("load_operator_snapshot", str(path))
    assert str(refused.value) == f"{path}: {reason}; nothing was loaded"
    assert refused.value.returncode == 1
    assert capsys.readouterr().err == ""


def test_a_utf8_bom_is_text(db, tmp_path):
    path = _encoded(tmp_path, b"\xef\xbb\xbf" + TEXT.encode())
    assert load_snapshot(path).inserted == 2


def test_json_names_the_file_fault(db, tmp_path):
    import json

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "load_operator_snapshot",
            str(_encoded(tmp_path, gzip.compress(TEXT.encode()))),
            "--json",
            stdout=out,
        )
    assert json.loads(out.getvalue())["errors"] == [
        {"line": 1, "field": "file", "reason": "the file is compressed (gzip): unpack it first"}
    ]
