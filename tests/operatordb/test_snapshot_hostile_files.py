"""Hostile snapshot files: each is rejected whole with its faults by line, field and reason (or,
where the rule says so, loaded), the command says what went wrong without a traceback, and
nothing is written."""

import builtins
import errno
import io
import os

import pytest
from django.core.management import CommandError, call_command

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
