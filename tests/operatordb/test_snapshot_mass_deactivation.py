"""A full snapshot that would end most of the operator's picture — a header-only or truncated
export — is refused whole, nothing written, unless ``--allow-mass-deactivation`` says the
operator really ended those numbers (``OPERATORDB_MAX_DEACTIVATED_SHARE``)."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from operatordb.models import OperatorSubscriber
from operatordb.snapshot import MassDeactivationRefused, load_snapshot

from .snapshot_files import HEADER, row, write


def _quoted(line: str) -> str:
    """The same row with its name quoted: the file is then read by the streaming pass."""
    fields = line.split(",")
    fields[7] = f'"{fields[7]}"'
    return ",".join(fields)


@pytest.fixture
def loaded(db, tmp_path):
    load_snapshot(write(tmp_path, [row(i) for i in range(10)], "first.csv"))
    return {m: (s, u) for m, s, u in OperatorSubscriber.objects.values_list(
        "msisdn", "status", "updated_at")}  # fmt: skip


def _table():
    return {m: (s, u) for m, s, u in OperatorSubscriber.objects.values_list(
        "msisdn", "status", "updated_at")}  # fmt: skip


@pytest.mark.parametrize("quoted", [False, True], ids=["bulk", "streaming"])
def test_a_header_only_full_snapshot_is_refused_and_writes_nothing(loaded, tmp_path, quoted):
    # (A CRLF header: the file is not plain CSV line by line, the streaming pass reads it.)
    path = write(
        tmp_path, [], "empty.csv", header=HEADER.replace("\n", "\r\n") if quoted else HEADER
    )

    with pytest.raises(MassDeactivationRefused, match="lists no number: all 10 active numbers"):
        load_snapshot(path)
    assert _table() == loaded


@pytest.mark.parametrize("quoted", [False, True], ids=["bulk", "streaming"])
def test_a_truncated_full_snapshot_is_refused_and_writes_nothing(
    loaded, tmp_path, quoted, settings
):
    settings.OPERATORDB_MAX_DEACTIVATED_SHARE = 0.5  # production's
    rows = [row(i, "Siti Rahmawati") for i in range(3)]  # changed too: nothing of it written
    path = write(tmp_path, [_quoted(r) for r in rows] if quoted else rows, "truncated.csv")

    with pytest.raises(MassDeactivationRefused, match="7 of the 10 active numbers"):
        load_snapshot(path)
    assert _table() == loaded


def test_the_command_refuses_it_with_exit_status_1_and_says_why(loaded, tmp_path):
    path = write(tmp_path, [], "empty.csv")
    with pytest.raises(CommandError, match="--allow-mass-deactivation") as refused:
        call_command("load_operator_snapshot", str(path))
    assert refused.value.returncode == 1
    assert _table() == loaded

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("load_operator_snapshot", str(path), "--json", stdout=out)
    answer = json.loads(out.getvalue())
    assert answer == {
        "loaded": False,
        "refused": "mass_deactivation",
        "deactivating": 10,
        "active": 10,
        "rows": 0,
    }


def test_with_the_flag_it_is_loaded(loaded, tmp_path):
    path = write(tmp_path, [row(i) for i in range(3)], "truncated.csv")
    out = io.StringIO()
    call_command(
        "load_operator_snapshot", str(path), "--allow-mass-deactivation", "--json", stdout=out
    )
    assert json.loads(out.getvalue())["deactivated"] == 7
    assert OperatorSubscriber.objects.filter(status="active").count() == 3

    empty = write(tmp_path, [], "empty.csv")
    assert load_snapshot(empty, allow_mass_deactivation=True).deactivated == 3
    assert not OperatorSubscriber.objects.filter(status="active").exists()


def test_a_normal_daily_change_is_not_affected(loaded, tmp_path):
    # Half of the active numbers ended is the most a full snapshot ends without the flag.
    rows = [row(i) for i in range(5)] + [row(99)]
    report = load_snapshot(write(tmp_path, rows, "daily.csv"))
    assert (report.inserted, report.deactivated) == (1, 5)
    # A file ending none (the next day, the same numbers) and a delta listing none.
    assert load_snapshot(write(tmp_path, rows, "again.csv")).deactivated == 0
    assert load_snapshot(write(tmp_path, [], "delta.csv"), full=False).rows == 0


def test_by_default_a_smaller_picture_of_ones_own_loads(loaded, tmp_path):
    """Unset (the mock, the demo), any file listing numbers is the picture: a tester's own
    snapshot over the demo's ends the numbers it does not list."""
    assert load_snapshot(write(tmp_path, [row(i) for i in range(3)], "own.csv")).deactivated == 7


def test_the_share_is_a_setting(loaded, tmp_path, settings):
    settings.OPERATORDB_MAX_DEACTIVATED_SHARE = 0.8
    assert load_snapshot(write(tmp_path, [row(i) for i in range(3)], "t.csv")).deactivated == 7
    settings.OPERATORDB_MAX_DEACTIVATED_SHARE = 0.1
    with pytest.raises(MassDeactivationRefused, match="2 of the 3 active numbers"):
        load_snapshot(write(tmp_path, [row(0)], "t.csv"))


def test_a_header_only_file_into_an_empty_table_loads(db, tmp_path):
    assert load_snapshot(write(tmp_path, [], "empty.csv")).rows == 0
    # Numbers listed inactive are not active ones ended.
    load_snapshot(write(tmp_path, [row(i).replace(",active,", ",inactive,") for i in range(4)]))
    assert load_snapshot(write(tmp_path, [], "empty.csv")).deactivated == 0
