"""The snapshot's timestamps: ISO 8601's extended form, a date and a time (``T`` or a space),
``Z`` or an offset or none (Asia/Jakarta); nothing else ``datetime.fromisoformat`` reads, and
nothing later than a day after now — refused at their field, the quick path and the rules
alike."""

import contextlib
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from operatordb import snapshot
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import (
    LoadReport,
    SnapshotRejected,
    _Errors,
    load_rows,
    load_snapshot,
    read_rows,
)

from .snapshot_files import row, write

STAMP = "2025-03-01T10:02:00+07:00"  # row(2)'s activated_at


def _soon(hours: int, form: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return (timezone.now() + timedelta(hours=hours)).astimezone(UTC).strftime(form)


def _both(path):
    """(faults of the load, stored values) by ``load_snapshot`` (on PostgreSQL the bulk load
    and its quick path) and by the streaming pass (the rules alone)."""
    try:
        load_snapshot(path)
    except SnapshotRejected as exc:
        bulk = exc.report.errors
    else:
        bulk = []
    bulk_rows = sorted(OperatorSubscriber.objects.values_list(*snapshot.STORED))
    OperatorSubscriber.objects.all().delete()
    stream = LoadReport()
    with open(path, encoding="utf-8", newline="") as fh, contextlib.suppress(SnapshotRejected):
        load_rows(read_rows(fh, _Errors(stream)), report=stream)
    stream_rows = sorted(OperatorSubscriber.objects.values_list(*snapshot.STORED))
    return (bulk, bulk_rows), (stream.errors, stream_rows)


REFUSED = [
    ("2099-01-01T00:00:00Z", snapshot._IN_THE_FUTURE),
    ("2099-01-01 00:00", snapshot._IN_THE_FUTURE),  # naive: Jakarta time, still the future
    (lambda: _soon(30), snapshot._IN_THE_FUTURE),
    ("2016-W22-3", snapshot._NOT_A_TIMESTAMP),  # an ISO week date
    ("20160601T100000", snapshot._NOT_A_TIMESTAMP),  # the basic (compact) form
    ("20160601T100000+0700", snapshot._NOT_A_TIMESTAMP),
    ("2016-06-01T10:00:00x+07:00", snapshot._NOT_A_TIMESTAMP),  # a stray character
    ("2016-06-01T10:00:00 +07:00", snapshot._NOT_A_TIMESTAMP),
    ("2016-06-01x10:00:00+07:00", snapshot._NOT_A_TIMESTAMP),
    ("2016-06-01T10:00:00+05:30:15", snapshot._NOT_A_TIMESTAMP),  # seconds in the offset
    ("2016-06-01T10:00:00.1234567+07:00", snapshot._NOT_A_TIMESTAMP),  # past microseconds
    ("2016-06-01T10+07:00", snapshot._NOT_A_TIMESTAMP),  # the hour alone
    ("2016-06-01T10:00:00z", snapshot._NOT_A_TIMESTAMP),
    ("2016-06-01t10:00:00Z", snapshot._NOT_A_TIMESTAMP),
    ("\u0662016-06-01T10:00:00Z", snapshot._NOT_A_TIMESTAMP),  # an Arabic-Indic digit
]
ACCEPTED = [
    "2016-06-01",  # a date alone: the start of the day, Jakarta time
    "2016-06-01T10:00:00+07:00",
    "2016-06-01 10:00Z",
    "2016-06-01T10:00:00.5-03:30",
    "2016-06-01T10:00:00+0700",
    "2016-06-01T10:00:00+07",
    "2016-06-01 10:00:00",  # naive: Jakarta time
    "2016-06-01T10:00",
]


@pytest.mark.parametrize(("value", "reason"), REFUSED)
@pytest.mark.parametrize("column", ["activated_at", "issued_at", "deactivated_at"])
def test_an_odd_or_future_timestamp_is_refused_at_its_field(db, tmp_path, value, reason, column):
    value = value() if callable(value) else value
    rows = [row(i) for i in range(5)]
    if column == "activated_at":
        rows[2] = rows[2].replace(STAMP, value)
    elif column == "issued_at":
        rows[2] = rows[2][:-1] + f"{value},"  # the line ends ",issued_at,deactivated_at"
    else:
        rows[2] = rows[2].replace(",active,", ",inactive,") + value
    path = write(tmp_path, rows)

    (bulk, _), (stream, _) = _both(path)

    assert bulk == stream == [snapshot.RowError(4, column, reason)]
    assert not OperatorSubscriber.objects.exists()


@pytest.mark.parametrize(
    "value", [*ACCEPTED, lambda: _soon(2), lambda: _soon(20, "%Y-%m-%d %H:%M")]
)
def test_the_documented_forms_load_as_the_rules_store_them(db, tmp_path, value):
    value = value() if callable(value) else value
    rows = [row(i) for i in range(5)]
    rows[2] = rows[2].replace(STAMP, value)[:-2] + f",{value},"  # issued when activated

    (bulk, bulk_rows), (stream, stream_rows) = _both(write(tmp_path, rows))

    assert bulk == stream == []
    assert bulk_rows == stream_rows and len(bulk_rows) == 5


def test_the_command_names_the_line_and_field(db, tmp_path, capsys):
    from django.core.management import CommandError, call_command

    rows = [row(0).replace("2025-03-01T10:00:00+07:00", "2099-01-01T00:00:00Z")]
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("load_operator_snapshot", str(write(tmp_path, rows)))
    assert (
        "line 2, activated_at: in the future (more than a day after now)" in capsys.readouterr().err
    )
