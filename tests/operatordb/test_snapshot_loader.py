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
from core.idnumbers import ascii_digits, normalize_id_number
from core.masking import mask_id_number
from operatordb import snapshot
from operatordb.models import OperatorSubscriber
from operatordb.snapshot import SnapshotRejected, load_snapshot

from .snapshot_files import HEADER as HEADER_WITH_LIVES
from .snapshot_files import luhn_completed, write

HEADER = "msisdn,iccid,status,activated_at,outlet_roid,id_type,id_number,full_name,birth_date\n"
GOOD = [
    "081200000001,8962100000001000019,active,2025-03-01T10:00:00+07:00,ROJKT000001,ktp,"
    "3171 0157 0890 0042,Siti Nur'aini,1990-08-17",
    "6281200000002,,active,2025-03-02 09:30:00,ROJKT000002,passport,a 123-4567,Budi,1985-01-09",
    "+62 812 0000 0003,,inactive,,,,,,",
]


def _file(tmp_path, lines, name="snapshot.csv"):
    """A file of the nine columns every snapshot has."""
    return write(tmp_path, lines, name, header=HEADER)


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
    with pytest.raises(CommandError, match=r"Cannot open .*: No such file or directory") as exc:
        call_command("load_operator_snapshot", str(tmp_path / "missing.csv"))
    assert exc.value.returncode == 2


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


# --- the bulk load (PostgreSQL) and the streaming pass agree ------------------------------------

# Every field in its stored form: the bulk load's quick path converts these rows.
CANONICAL = [
    "6281200000101,8962100000001000019,active,2025-03-01T10:00:00+07:00,ROJKT000001,ktp,"
    "3171015708900042,Siti Nur'aini,1990-08-17,,",
    "6281200000102,,inactive,,,,,,,2024-01-01T00:00:00Z,2024-02-29T23:59:59.5+07:00",
    "6281200000103,896210000000100005,active,2025-03-01 10:00Z,ROABCDEF123456789012,passport,"
    "A1234567,O'NEIL al-fatih,2000-02-29,2025-01-01T00:00:00+14:00,",
    "6281200000104,,inactive,2025-03-01T10:00:00.123456-03:30,,kitas,12,A.B C-D,,,"
    "2025-06-30T10:00:00+00:00",
]
# Valid, but a field needs the rules' normalisation: the quick path leaves them to the rules.
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
    """The bulk load over ``path``; fails the test if it handed the file to the stream."""
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
    connection.vendor != "postgresql", reason="the bulk load is PostgreSQL's"
)


@needs_postgresql
def test_the_quick_checks_report_each_fault_as_the_rules_do(db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER_WITH_LIVES + "\n".join(CANONICAL + NORMALISED + BAD) + "\n", "utf-8")

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
def test_the_quick_path_stores_what_the_rules_store(db, tmp_path):
    path = tmp_path / "good.csv"
    path.write_text(HEADER_WITH_LIVES + "\n".join(CANONICAL + NORMALISED) + "\n", "utf-8")

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
def test_the_loaders_digest_and_mask_are_the_portals(db, tmp_path, settings, key):
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
    ("body", "plain"),
    [
        ('"6281200000401",,inactive,,,,,,\n', False),  # a quoted field
        ("6281200000401,,inactive,,,,,,\r\n", False),  # Windows line ends
        ("6281200000401,,inactive,,,,,,\n\n6281200000402,,inactive,,,,,,\n", True),  # blank
        ("6281200000401,,inactive,,,,,,\n\\.\n6281200000402,,inactive,,,,,,\n", True),  # \.
        ("6281200000401,,inactive,,,,,,,\n", True),  # a row too wide
        ("6281200000401,,inactive,,,,,\n6281200000402,,inactive,,,,,,", True),  # narrow, no \n
    ],
)
def test_a_file_that_is_not_plain_csv_is_read_as_the_stream_reads_it(db, tmp_path, body, plain):
    """Quotes and carriage returns (where a row may span lines) hand the file to the streaming
    pass; blank lines, odd widths and a last line without its line break are read line by line
    by the bulk load, with the same rows and faults."""
    path = tmp_path / "odd.csv"
    path.write_text(HEADER + body, "utf-8", newline="")
    if plain:
        try:
            bulk = _bulk(path)
        except SnapshotRejected as exc:
            bulk = exc.report
        OperatorSubscriber.objects.all().delete()
    else:
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
    if plain:
        assert (bulk.rows, bulk.inserted, bulk.errors) == (
            stream.rows,
            stream.inserted,
            stream.errors,
        )


@needs_postgresql
def test_the_quick_checks_agree_with_the_rules_on_many_edge_values(db, tmp_path):
    # (Offsets up to 15:59: PostgreSQL refuses larger ones Python accepts, on both paths.)
    rng = random.Random(17)

    def timestamp():
        fraction = rng.choice(["", "." + "1" * rng.randint(1, 7)])
        seconds = rng.choice(["", f":{rng.randint(0, 60):02d}{fraction}"])
        offset = rng.choice(
            ["Z", f"{rng.choice('+-')}{rng.randint(0, 15):02d}:{rng.randint(0, 59):02d}"]
        )
        return (
            f"{rng.choice(['2024', '2023', '1900', '2000', '2099'])}-{rng.randint(0, 13):02d}"
            f"-{rng.randint(0, 32):02d}{rng.choice('T ')}{rng.randint(0, 25):02d}"
            f":{rng.randint(0, 60):02d}{seconds}{offset}"
        )

    rows = []
    for i in range(600):
        prefix = "89" + "".join(rng.choices(string.digits, k=rng.randint(15, 17)))
        iccid = rng.choice([luhn_completed(prefix), prefix + rng.choice(string.digits), ""])
        birth = f"{rng.choice(['2000', '1999', '1900', '0000'])}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}"
        issued, ended = rng.choice([("", ""), (timestamp(), ""), (timestamp(), timestamp())])
        status = "inactive" if ended or rng.random() < 0.3 else "active"
        rows.append(
            f"62812{i:08d},{iccid},{status},{timestamp()},,,,,"
            f"{rng.choice([birth, ''])},{issued},{ended}"
        )
    path = tmp_path / "edges.csv"
    path.write_text(HEADER_WITH_LIVES + "\n".join(rows) + "\n", "utf-8")

    bulk = _bulk(path)
    stream = _stream(path)
    assert stream.error_count > 100
    assert bulk.errors == stream.errors


# Hostile forms of ID numbers, each with the document type it is given under: separators,
# lower case, surrounding and inner whitespace of every kind, digits of other scripts, letters
# whose upper case is longer, a zero-width space. Each must be stored as ``core.pii`` digests
# the number the portal's normaliser (``core.idnumbers``) makes of it, its digits of any script
# written as ASCII digits first (``ascii_digits``: the same NIK as the portal's record of it).
HOSTILE_ID_NUMBERS = [
    ("ktp", "3171 0157 0890 0042"),
    ("ktp", " 3171.0157.0890.0042 "),
    ("ktp", "3171-0157-0890-0042"),
    ("ktp", "3171\u00a00157\u20030890\t0042"),
    ("ktp", "\uff13\uff11\uff17\uff11015708900042"),  # fullwidth digits
    ("ktp", "\u0663\u0661\u0667\u0661015708900042"),  # Arabic-Indic digits
    ("ktp", "3171\u200b015708900042"),  # a zero-width space is not whitespace
    ("sim", "1234-5678-9012"),
    ("passport", "a 123-4567"),
    ("passport", "straße1"),  # upper case: STRASSE1
    ("passport", "ı23456"),  # dotless i
    ("kitas", "2c11 ab-0001"),
    ("kitap", "\u00e9\u0301123"),  # a combining accent
    ("student_card", "nim/2019.001-a"),
    ("student_card", "  s 1 2 3 "),
    ("KTP", "3171015708900042"),  # the type in capitals
]


@needs_postgresql
@pytest.mark.parametrize("workers", [0, 2])
def test_digests_of_hostile_id_numbers_are_the_portals(
    db, tmp_path, settings, monkeypatch, workers
):
    """Byte for byte what ``core.pii.digest`` / ``digest_many`` give for the number as
    ``core.idnumbers`` normalises it (its digits in ASCII), whether this process or the pool of
    workers converts the rows (small chunks: the 16 numbers and their canonical twins spread
    over several)."""
    settings.OPERATORDB_LOAD_WORKERS = workers
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 256)
    rows, expected = [], {}
    for i, (id_type, number) in enumerate(HOSTILE_ID_NUMBERS):
        normalized = normalize_id_number(id_type, ascii_digits(number))
        for j, written in enumerate((number, normalized)):
            msisdn = f"628120000{i:02d}{j:02d}"
            expected[msisdn] = normalized
            rows.append(f"{msisdn},,inactive,,,{id_type},{written},,")
    path = _file(tmp_path, rows, "hostile.csv")

    report = load_snapshot(path)

    assert (report.rows, report.inserted, report.error_count) == (len(rows), len(rows), 0)
    stored = dict(OperatorSubscriber.objects.values_list("msisdn", "id_number_digest"))
    msisdns = sorted(expected)
    assert [stored[m] for m in msisdns] == pii.digest_many([expected[m] for m in msisdns])
    for msisdn, (id_type, number) in zip(msisdns[::2], HOSTILE_ID_NUMBERS, strict=True):
        assert stored[msisdn] == pii.id_digest(id_type, ascii_digits(number))
    # Another key, another digest: the key in force is the one used.
    assert stored[msisdns[0]] != pii._hmac("another-key", expected[msisdns[0]])


@needs_postgresql
def test_the_pool_of_workers_reports_and_stores_as_the_rules_do(
    db, tmp_path, settings, monkeypatch
):
    """A file cut into many chunks converted by two worker processes: the same faults, in the
    same order, as the streaming pass (every kind of row spread across the chunks, a duplicate
    across chunks); then, its bad rows left out, the same rows stored."""
    settings.OPERATORDB_LOAD_WORKERS = 2
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 1024)
    rng = random.Random(11)
    body = []
    for i in range(300):
        kind = rng.choice([CANONICAL, CANONICAL, NORMALISED, BAD])
        row = rng.choice(kind).split(",", 1)[1]
        body.append(f"62813{i:08d},{row}")
    body[3] = "6281300000003," + CANONICAL[0].split(",", 1)[1]
    body[250] = "6281300000003,,inactive,,,,,,,,"  # the same number as line 5
    path = tmp_path / "many.csv"
    path.write_text(HEADER_WITH_LIVES + "\n".join(body) + "\n", "utf-8")

    try:
        bulk = _bulk(path)
    except SnapshotRejected as exc:
        bulk = exc.report
    stream = _stream(path)
    assert stream.error_count > 50
    assert (bulk.rows, bulk.error_count, bulk.errors) == (
        stream.rows,
        stream.error_count,
        stream.errors,
    )
    assert (252, "msisdn", "the same number as line 5") in {
        (e.line, e.field, e.reason) for e in bulk.errors
    }
    assert not OperatorSubscriber.objects.exists()

    bad_lines = {e.line for e in stream.errors}
    good = [row for line, row in enumerate(body, start=2) if line not in bad_lines]
    path.write_text(HEADER_WITH_LIVES + "\n".join(good) + "\n", "utf-8")
    assert load_snapshot(path).inserted == len(good)  # the first load: straight into the table
    by_pool = _stored()
    OperatorSubscriber.objects.all().delete()
    assert _stream(path).inserted == len(good)
    assert by_pool == _stored()
    # The same file again, through staging: nothing changed.
    again = load_snapshot(path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(good))


@needs_postgresql
def test_bytes_that_are_not_utf8_deep_in_a_pooled_file_load_nothing(
    db, tmp_path, settings, monkeypatch
):
    """A worker meets bytes that are not UTF-8 in a late chunk: the load stops, nothing is
    written (even on a first load, where rows went straight into the table), and the command
    names the line that is not UTF-8 text."""
    settings.OPERATORDB_LOAD_WORKERS = 2
    monkeypatch.setattr(snapshot, "CHUNK_BYTES", 512)
    rows = [f"62812{i:08d},,inactive,,,,,Budi," for i in range(200)]
    path = tmp_path / "latin1.csv"
    data = (HEADER + "\n".join(rows) + "\n").encode()
    path.write_bytes(data + "62819999999,,inactive,,,,,Jos\u00e9,\n".encode("latin-1"))

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad row"):
        call_command("load_operator_snapshot", str(path), stderr=err)
    assert err.getvalue() == "line 202, row: not UTF-8 text\n"
    assert not OperatorSubscriber.objects.exists()
