"""A reload that converts only its changed lines against a load that converts every line.

Seeded random edits of an export (renamed buyers, numbers written ``08…``, lower-case ID
types, blank lines, lines written twice, one number on two lines, bad dates and check digits,
lines removed and added, a quoted field, a carriage return, bytes that are not UTF-8) are
reloaded over the original, and the same edited file is loaded into an empty table. The two
must agree: the same faults (line, field, reason) — a line that is not UTF-8 as any — and nothing written
in the reload, or the same stored
values for every number the file lists (and, in the reload, the numbers it no longer lists
inactive). Half of the seeds load with the index rebuild of a large write on.
"""

import random

import pytest
from django.db import connection

from operatordb.models import OperatorSubscriber
from operatordb.snapshot import SnapshotRejected, load_snapshot

from .snapshot_files import TABLE
from .snapshot_files import row as _row
from .snapshot_files import write as _write

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the set-based load is PostgreSQL's"
)

VALUES = (
    "msisdn, iccid, status, activated_at, outlet_roid, id_type, id_number_digest,"
    " id_number_masked, full_name, name_key, birth_date, issued_at, deactivated_at"
)


def _values() -> dict[str, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {VALUES} FROM {TABLE}")  # noqa: S608
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _edit(rng: random.Random, lines: list[str]) -> list[str]:
    """Lines of the original with a few random edits (text lines, no line ends)."""
    lines = list(lines)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        fields = lines[i].split(",")
        edit = rng.choice(
            [
                "rename", "local", "lower_type", "blank", "twice", "same_number", "bad_date",
                "bad_iccid", "remove", "add", "inactive", "quoted", "carriage", "not_utf8",
                "spaces",
            ]
        )  # fmt: skip
        if len(fields) != 11 and edit not in ("blank", "remove", "add"):
            continue  # an earlier edit made it something else
        if edit == "rename":
            fields[7] = rng.choice(["Budi Santoso", "Siti Rahmawati", "Dewi"])
        elif edit == "local":
            fields[0] = "0" + fields[0][2:]
        elif edit == "lower_type":
            fields[5] = "KTP" if rng.random() < 0.5 else "Ktp"
        elif edit == "bad_date":
            fields[8] = "1990-02-30"
        elif edit == "bad_iccid":
            fields[1] = fields[1][:-1] + str(9 - int(fields[1][-1]))
        elif edit == "inactive":
            fields[2] = "inactive"
        elif edit == "quoted":
            fields[7] = f'"{fields[7]}"'
        elif edit == "spaces":
            fields[7] = f" {fields[7]} "
        elif edit == "same_number":
            fields[0] = lines[rng.randrange(len(lines))].split(",")[0]
        if edit == "blank":
            lines.insert(i, "")
        elif edit == "remove":
            del lines[i]
        elif edit == "add":
            lines.insert(i, _row(100 + i))
        elif edit == "twice":
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
        elif edit == "carriage":
            lines[i] = lines[i] + "\r"
        elif edit == "not_utf8":
            lines[i] = lines[i].replace("Siti", "Sit\udcff", 1)
        else:
            lines[i] = ",".join(fields)
    return lines


def _load(path):
    """("ok", stored values) or ("rejected", faults): what the command reports (a line that is
    not UTF-8 text too, as ``line N, row: not UTF-8 text``)."""
    try:
        load_snapshot(path)
    except SnapshotRejected as exc:
        return "rejected", [(e.line, e.field, e.reason) for e in exc.report.errors]
    except UnicodeDecodeError:
        return "not UTF-8", None
    return "ok", _values()


@pytest.mark.parametrize("seed", range(50))
def test_a_reload_agrees_with_a_load_converting_every_line(
    transactional_db, tmp_path, settings, seed
):
    if seed % 2:
        # Every write counts as large: the load into the empty table drops the MSISDN's unique
        # constraint and the read indexes for its COPY and builds them after (a real first
        # load's path, which a file of a few lines would not take).
        settings.OPERATORDB_LOAD_REBUILD_INDEXES_FROM = 1
    rng = random.Random(seed)
    original = [_row(i, name=rng.choice(["Siti Rahma", "Agus Salim"])) for i in range(30)]
    edited = _edit(rng, original)
    base, edited_path = _write(tmp_path, original, "base.csv"), _write(tmp_path, edited, "e.csv")

    load_snapshot(base)
    stored = _values()
    reload = _load(edited_path)
    reloaded = _values()
    OperatorSubscriber.objects.all().delete()
    fresh = _load(edited_path)

    assert reload[0] == fresh[0], (edited, reload, fresh)
    if fresh[0] != "ok":
        assert reload[1] == fresh[1]
        assert reloaded == stored  # nothing written
        return
    listed = fresh[1]
    assert {m: reloaded[m] for m in listed} == listed
    for msisdn in set(reloaded) - set(listed):
        assert reloaded[msisdn][1] == "inactive"  # no longer listed
