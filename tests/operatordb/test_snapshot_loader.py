"""``load_operator_snapshot``: normalised like the portal, upserted only when changed, absent
numbers set inactive, and a file with any bad row rejected whole with each fault by line."""

import contextlib
import io
import json
import random
import string

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from core import pii
from core.idnumbers import normalize_id_number
from core.masking import mask_id_number
from operatordb import snapshot
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import SnapshotRejected, load_snapshot

HEADER = "msisdn,iccid,status,activated_at,outlet_roid,id_type,id_number,full_name,birth_date\n"
GOOD = [
    "081200000001,8962100000001000019,active,2025-03-01T10:00:00+07:00,ROJKT000001,ktp,"
    "3171 0157 0890 0042,Siti Nur'aini,1990-08-17",
    "6281200000002,,active,2025-03-02 09:30:00,ROJKT000002,passport,a 123-4567,Budi,1985-01-09",
    "+62 812 0000 0003,,inactive,,,,,,",
]


def _file(tmp_path, lines, name="snapshot.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_good_file_is_loaded_in_the_portals_form(db, tmp_path):
    report = load_snapshot(_file(tmp_path, GOOD))

    assert (report.rows, report.inserted, report.updated, report.deactivated) == (3, 3, 0, 0)
    siti = OperatorSubscriber.objects.get(msisdn="6281200000001")
    assert siti.id_number_digest == pii.digest("3171015708900042")
    assert siti.id_number_masked == "3171********0042"
    assert siti.name_key == "sitinuraini"
    assert str(siti.birth_date) == "1990-08-17"
    assert siti.activated_at.isoformat() == "2025-03-01T03:00:00+00:00"
    budi = OperatorSubscriber.objects.get(msisdn="6281200000002")
    assert budi.id_number_digest == pii.digest("A1234567")  # as the portal normalises it
    assert budi.activated_at.utcoffset() is not None  # naive times are Jakarta time
    blank = OperatorSubscriber.objects.get(msisdn="6281200000003")
    assert (blank.status, blank.id_number_digest, blank.birth_date) == ("inactive", "", None)
    # The operator's numbers are held as digests and masked copies only, never encrypted.
    assert not hasattr(OperatorSubscriber, "id_number_encrypted")


def test_reloading_changes_only_what_changed_and_deactivates_the_absent(db, tmp_path):
    load_snapshot(_file(tmp_path, GOOD))
    before = dict(OperatorSubscriber.objects.values_list("msisdn", "updated_at"))

    again = load_snapshot(_file(tmp_path, GOOD))
    assert (again.inserted, again.updated, again.unchanged, again.deactivated) == (0, 0, 3, 0)
    assert dict(OperatorSubscriber.objects.values_list("msisdn", "updated_at")) == before

    changed = [GOOD[0].replace("Siti Nur'aini", "Siti Nuraini"), GOOD[2]]
    report = load_snapshot(_file(tmp_path, changed))
    assert (report.updated, report.deactivated) == (1, 1)
    siti = OperatorSubscriber.objects.get(msisdn="6281200000001")
    assert siti.full_name == "Siti Nuraini" and siti.updated_at > before[siti.msisdn]
    budi = OperatorSubscriber.objects.get(msisdn="6281200000002")
    assert budi.status == "inactive" and budi.updated_at > before[budi.msisdn]
    assert (
        OperatorSubscriber.objects.get(msisdn="6281200000003").updated_at == before["6281200000003"]
    )


def test_a_delta_leaves_absent_numbers_alone(db, tmp_path):
    load_snapshot(_file(tmp_path, GOOD))
    report = load_snapshot(_file(tmp_path, GOOD[:1]), full=False)
    assert report.deactivated == 0
    assert OperatorSubscriber.objects.get(msisdn="6281200000002").status == "active"


def test_a_file_with_bad_rows_is_rejected_whole_with_each_fault_by_line(db, tmp_path):
    load_snapshot(_file(tmp_path, GOOD))
    before = list(OperatorSubscriber.objects.order_by("msisdn").values())
    bad = [
        GOOD[0].replace("Siti Nur'aini", "Siti Baru"),  # fine on its own: must not be written
        "0212345678,,active,2025-01-01,ROJKT000001,ktp,3171015708900042,A,1990-08-17",
        "081200000009,,sleeping,2025-01-01,ROJKT000001,,,,",
        "081200000010,,active,,ROX,ktp,,Budi,17-08-1990",
        "081200000011,8962100000001000010,active,2025-13-01,,unknown,123,Budi,",
        "081200000001,,inactive,,,,,,",  # the same number as line 2
        "081200000012,too,few",
    ]

    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(_file(tmp_path, bad))

    faults = [(e.line, e.field) for e in exc.value.report.errors]
    assert sorted(faults) == [
        (3, "msisdn"),
        (4, "status"),
        (5, "activated_at"), (5, "birth_date"), (5, "id_number"), (5, "outlet_roid"),
        (6, "activated_at"), (6, "iccid"), (6, "id_type"),
        (7, "msisdn"),
        (8, "row"),
    ]  # fmt: skip
    assert exc.value.report.error_count == 11
    assert list(OperatorSubscriber.objects.order_by("msisdn").values()) == before


def test_a_duplicate_number_is_reported_with_both_lines(db, tmp_path):
    rows = [GOOD[0], GOOD[1], GOOD[0].replace("081200000001", "6281200000001")]
    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(_file(tmp_path, rows))
    assert [(e.line, e.field) for e in exc.value.report.errors] == [(4, "msisdn")]
    assert "line 2" in exc.value.report.errors[0].reason
    assert not OperatorSubscriber.objects.exists()


def test_a_wrong_header_is_reported_at_line_1(db, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("msisdn,status\n081200000001,active\n", encoding="utf-8")
    with pytest.raises(SnapshotRejected) as exc:
        load_snapshot(path)
    assert [(e.line, e.field) for e in exc.value.report.errors] == [(1, "header")]


def test_the_command_reports_and_exits_non_zero_on_bad_rows(db, tmp_path):
    good = _file(tmp_path, GOOD, "good.csv")
    out = io.StringIO()
    call_command("load_operator_snapshot", str(good), "--json", stdout=out)
    assert json.loads(out.getvalue())["inserted"] == 3

    bad = _file(tmp_path, ["081200000009,,sleeping,2025-01-01,,,,,"], "bad.csv")
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_operator_snapshot", str(bad), stderr=err)
    assert "line 2, status:" in err.getvalue()
    assert OperatorSubscriber.objects.count() == 3
    with pytest.raises(CommandError, match="no such file"):
        call_command("load_operator_snapshot", str(tmp_path / "missing.csv"))


def test_updated_at_is_the_load_time(db, tmp_path):
    start = timezone.now()
    load_snapshot(_file(tmp_path, GOOD))
    assert all(t >= start for t in OperatorSubscriber.objects.values_list("updated_at", flat=True))


@pytest.mark.parametrize(
    "name",
    ["Siti Nur'aini", "O'NEIL  al-fatih", "Ma\u2019ruf", "Élodie", "Straße", "ﬁtri", "Σοφία",
     "A.B,C-D", "Nguyễn Văn", "  Budi\tSantoso ", "X\u00a0Y"],
)  # fmt: skip
def test_the_fast_name_key_is_the_portals_rule(name):
    from identity.idrules import normalize_name_for_comparison
    from operatordb.snapshot import name_key

    assert name_key(name) == normalize_name_for_comparison(name)


def test_the_fast_digest_is_the_portals_digest(settings):
    from operatordb.snapshot import _Digester

    for key in ("short", "k" * 64, "a-much-longer-key-" * 5):
        settings.ID_DIGEST_KEY = key
        digest = _Digester(key.encode())
        for value in ("3171015708900042", "A1234567", "É"):
            assert digest(value) == pii.digest(value)


# --- the set-based load (PostgreSQL) and the streaming pass agree -------------------------------

FULL_HEADER = HEADER.rstrip("\n") + ",issued_at,deactivated_at\n"
# Every field in its stored form: the SQL converts these rows itself.
CANONICAL = [
    "6281200000101,8962100000001000019,active,2025-03-01T10:00:00+07:00,ROJKT000001,ktp,"
    "3171015708900042,Siti Nur'aini,1990-08-17,,",
    "6281200000102,,inactive,,,,,,,2024-01-01T00:00:00Z,2024-02-29T23:59:59.5+07:00",
    "6281200000103,896210000000100005,active,2025-03-01 10:00Z,ROABCDEF123456789012,passport,"
    "A1234567,O'NEIL al-fatih,2000-02-29,2025-01-01T00:00:00+14:00,",
    "6281200000104,,inactive,2025-03-01T10:00:00.123456-03:30,,kitas,12,A.B C-D,,,"
    "2025-06-30T10:00:00+00:00",
]
# Valid, but a field needs the rules' normalisation: the SQL leaves them to Python.
NORMALISED = [
    "081200000201,8962 1000 0000 1000 019,ACTIVE,2025-03-01 10:00:00,rojkt000001,KTP,"
    "3171.0157.0890.0042,Élodie Straße,1990-08-17,2025-01-01,",
    "+62 812 0000 0202,,inactive,,,passport,a 123-4567, Budi  Santoso ,,,",
]
# Bad rows, one or more faults each.
BAD = [
    "6281200000301,,active,2025-02-30T10:00:00+07:00,,,,,,,",  # no 30 February
    "6281200000302,,active,2025-03-01T24:00:00+07:00,,,,,1990-02-29,,",  # hour 24, no leap
    "6281200000303,8962100000001000010,active,2025-03-01T10:00Z,,,,,,,",  # Luhn
    "6281200000304,,active,2025-03-01T10:00Z,,,,,,,2025-03-02T10:00Z",  # still active
    "6281200000305,,inactive,,,,,,,2025-03-02T10:00Z,2025-03-01T10:00Z",  # ends before issue
    "6281200000306,,active,,,ktp,,Budi,0000-01-01,,",  # no activation, no number, year 0
    "6281200000307,,inactive,,RO12,sim,12345,,1990-13-01,,",  # ROID, month 13
    "6281200000101,,inactive,,,,,,,,",  # the same number as line 2
    "0212345678,,inactive,,,,12345,,,,",  # landline, number without type
    "6281200000308,,inactive,,,ktp," + "1" * 41 + "," + "x" * 101 + ",,,",  # lengths
]


def _stream(path):
    """The streaming pass over ``path``: (report or rejection's report, stored rows)."""
    from operatordb.snapshot import _Errors, load_rows, read_rows

    report = snapshot.LoadReport()
    with open(path, encoding="utf-8-sig", newline="") as fh, contextlib.suppress(SnapshotRejected):
        load_rows(read_rows(fh, _Errors(report)), report=report)
    return report


def _bulk(path):
    """The set-based load over ``path``; fails the test if it handed the file to the stream."""
    report = snapshot.LoadReport()
    errors = snapshot._Errors(report)
    with transaction.atomic():
        snapshot._load_postgresql_bulk(path, report, errors, full=True)  # no _NotPlain
        if report.error_count:
            transaction.set_rollback(True)
    return report


def _stored():
    fields = [f for f in snapshot.STORED] + ["status"]
    return sorted(OperatorSubscriber.objects.values_list(*fields))


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the set-based load is PostgreSQL's"
)


@needs_postgresql
def test_the_sql_checks_report_each_fault_as_the_rules_do(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(FULL_HEADER + "\n".join(CANONICAL + NORMALISED + BAD) + "\n", "utf-8")

    bulk = _bulk(path)
    stream = _stream(path)

    assert bulk.error_count == stream.error_count == 16
    assert bulk.errors == stream.errors  # same lines, fields, reasons, order
    assert {(e.line, e.field) for e in bulk.errors} >= {
        (8, "activated_at"), (9, "activated_at"), (9, "birth_date"), (10, "iccid"),
        (11, "deactivated_at"), (12, "deactivated_at"), (15, "msisdn"),
    }  # fmt: skip
    assert not OperatorSubscriber.objects.exists()


@needs_postgresql
def test_the_sql_load_stores_what_the_rules_store(db, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(FULL_HEADER + "\n".join(CANONICAL + NORMALISED) + "\n", "utf-8")

    bulk = _bulk(path)
    assert (bulk.rows, bulk.inserted, bulk.error_count) == (6, 6, 0)
    by_sql = _stored()
    OperatorSubscriber.objects.all().delete()
    stream = _stream(path)
    assert (stream.inserted, stream.error_count) == (6, 0)
    assert by_sql == _stored()


@needs_postgresql
@pytest.mark.parametrize(
    "key", ["short", "k" * 64, "a-much-longer-key-than-a-block-" * 5, "kunci-é"]
)
def test_the_databases_digest_and_mask_are_the_portals(db, tmp_path, settings, key):
    settings.ID_DIGEST_KEY = key
    rng = random.Random(key)
    alphabet = string.ascii_uppercase + string.digits
    rows, numbers = [], {}
    for i in range(400):
        id_type = rng.choice(["ktp", "sim", "passport", "student_card", "kitas", "kitap"])
        if id_type in ("ktp", "sim"):
            number = "".join(rng.choices(string.digits, k=rng.randint(1, 40)))
        else:
            number = "".join(rng.choices(alphabet, k=rng.randint(1, 40)))
        msisdn = f"62812{i:08d}"
        numbers[msisdn] = (id_type, number)
        rows.append(f"{msisdn},,inactive,,,{id_type},{number},,")
    path = tmp_path / "many.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", "utf-8")

    assert _bulk(path).inserted == 400
    stored = OperatorSubscriber.objects.values_list(
        "msisdn", "id_number_digest", "id_number_masked"
    )
    for msisdn, digest, masked in stored:
        id_type, number = numbers[msisdn]
        assert digest == pii.id_digest(id_type, number)
        assert masked == mask_id_number(normalize_id_number(id_type, number))


@needs_postgresql
@pytest.mark.parametrize(
    "body",
    [
        '"6281200000401",,inactive,,,,,,\n',  # a quoted field
        "6281200000401,,inactive,,,,,,\n\n6281200000402,,inactive,,,,,,\n",  # a blank line
        "6281200000401,,inactive,,,,,,\n\\.\n6281200000402,,inactive,,,,,,\n",  # COPY's end
        "6281200000401,,inactive,,,,,,\r\n",  # Windows line ends
        "6281200000401,,inactive,,,,,,,\n",  # a row too wide
    ],
)
def test_a_file_that_is_not_plain_csv_goes_through_the_stream(db, tmp_path, body):
    path = tmp_path / "odd.csv"
    path.write_text(HEADER + body, "utf-8", newline="")
    with pytest.raises(snapshot._NotPlain):
        _bulk(path)
    stream = _stream(path)
    OperatorSubscriber.objects.all().delete()
    try:
        report = load_snapshot(path)
    except SnapshotRejected as exc:
        report = exc.report
    assert (report.rows, report.inserted, report.errors) == (
        stream.rows,
        stream.inserted,
        stream.errors,
    )


def _luhn_completed(prefix: str) -> str:
    from operatordb.snapshot import _luhn_ok

    return next(prefix + d for d in "0123456789" if _luhn_ok(prefix + d))


@needs_postgresql
def test_the_sql_checks_agree_with_the_rules_on_many_edge_values(db, tmp_path):
    # (Offsets up to 15:59: PostgreSQL refuses larger ones Python accepts, on both paths.)
    rng = random.Random(17)

    def timestamp():
        fraction = rng.choice(["", "." + "1" * rng.randint(1, 7)])
        seconds = rng.choice(["", f":{rng.randint(0, 60):02d}{fraction}"])
        offset = rng.choice(
            ["Z", f"{rng.choice('+-')}{rng.randint(0, 15):02d}:{rng.randint(0, 59):02d}"]
        )
        return (
            f"{rng.choice(['2024', '2023', '1900', '2000'])}-{rng.randint(0, 13):02d}"
            f"-{rng.randint(0, 32):02d}{rng.choice('T ')}{rng.randint(0, 25):02d}"
            f":{rng.randint(0, 60):02d}{seconds}{offset}"
        )

    rows = []
    for i in range(600):
        prefix = "89" + "".join(rng.choices(string.digits, k=rng.randint(15, 17)))
        iccid = rng.choice([_luhn_completed(prefix), prefix + rng.choice(string.digits), ""])
        birth = f"{rng.choice(['2000', '1999', '1900', '0000'])}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
        issued, ended = rng.choice([("", ""), (timestamp(), ""), (timestamp(), timestamp())])
        status = "inactive" if ended or rng.random() < 0.3 else "active"
        rows.append(
            f"62812{i:08d},{iccid},{status},{timestamp()},,,,,"
            f"{rng.choice([birth, ''])},{issued},{ended}"
        )
    path = tmp_path / "edges.csv"
    path.write_text(FULL_HEADER + "\n".join(rows) + "\n", "utf-8")

    bulk = _bulk(path)
    stream = _stream(path)
    assert stream.error_count > 100
    assert bulk.errors == stream.errors
