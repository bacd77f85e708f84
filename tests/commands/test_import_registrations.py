"""import_registrations: the form's rules in bulk, each bad row reported at its field."""

import csv
import threading
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import translation

from core import pii
from core.models import AuditEvent
from identity.idgen import make_iccid, make_kk, make_msisdn, make_nik
from outlets.models import StarterPack
from subscribers import imports
from subscribers.imports import judging, writing
from subscribers.models import Registration
from tests.conftest import register_person
from tests.factories import StarterPackFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_english():
    """The summary lines asserted here are English whatever the catalogue says."""
    with translation.override("en"):
        yield


JAKARTA = ZoneInfo("Asia/Jakarta")
HEADER = list(imports.COLUMNS)
BORN = date(1988, 3, 9)


def row(n: int, **overrides) -> dict:
    """A valid row under every policy since 2017 (NIK + KK) at outlet ROJKT000001."""
    values = {
        "msisdn": "0" + make_msisdn(700 + n, prefix="62857")[2:],
        "iccid": make_iccid(700 + n, prefix="896257"),
        "id_type": "ktp",
        "id_number": make_nik(birth_date=BORN, sex="M", province="32", regency="73", serial=n),
        "kk_number": make_kk(recorded=date(2012, 5, 14), region="327301", serial=n),
        "full_name": "Ahmad Ma'ruf Hidayat",
        "birth_place": "Bandung",
        "birth_date": BORN.isoformat(),
        "sex": "M",
        "address": "Jl. Diponegoro No. 5, RT 03/RW 07, Bandung",
        "nationality": "ID",
        "outlet_roid": "ROJKT000001",
        "registered_at": "2024-05-01T10:15:00",
    }
    values.update(overrides)
    # Since 2017 the population registry is asked: the row's person is in the (mock) registry
    # as their NIK describes them (docs/rules.md).
    register_person({**values, "kk_number": values["kk_number"] or None})
    return values


def stored(msisdn: str) -> str:
    return "62" + msisdn[1:] if msisdn.startswith("0") else msisdn


def write_csv(path, rows, header=HEADER) -> str:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for values in rows:
            writer.writerow(
                [values[name] for name in header] if isinstance(values, dict) else values
            )
    return str(path)


def run_import(path, *args, **options) -> int:
    """The command's exit status (0 when it returns, else its CommandError's)."""
    try:
        call_command("import_registrations", str(path), *args, **options)
    except CommandError as exc:
        return exc.returncode
    return 0


def faults(errors_csv) -> set[tuple[int, str]]:
    with open(errors_csv, encoding="utf-8", newline="") as fh:
        return {(int(r["line"]), r["field"]) for r in csv.DictReader(fh)}


def test_good_and_bad_rows(tmp_path, outlet, other_outlet, clerk, pack, other_pack, capsys):
    staff = clerk.outlet_staff
    own_nik = make_nik(birth_date=date(1992, 1, 5), sex="F", serial=5)
    staff.id_number_digest = pii.digest(own_nik)
    staff.save()
    # A pack registered before by another import, to another buyer.
    taken = write_csv(tmp_path / "first.csv", [row(90)])
    assert run_import(taken) == 0
    taken_msisdn = stored(row(90)["msisdn"])

    new_msisdn = stored(row(1)["msisdn"])
    rows = [
        row(1),  # 2: a pack the portal does not know yet
        row(2, msisdn=pack.msisdn, iccid=pack.iccid, registered_at="2025-02-03"),  # 3: in stock
        row(3, outlet_roid="ROXXX99999"),  # 4
        row(4, id_number="9973010903880004"),  # 5: no such province
        row(5, birth_date="1988-03-10"),  # 6: disagrees with the NIK
        row(6, msisdn=other_pack.msisdn, iccid=other_pack.iccid),  # 7
        row(7, msisdn=row(90)["msisdn"], iccid=""),  # 8: already registered, another buyer
        row(8, id_type="student_card", id_number="SMA-12/0345", kk_number=""),  # 9: not in 2018
        row(9, id_type="student_card", id_number="SMA-12/0346", kk_number="",
            registered_at="2015-06-01T09:00:00"),  # 10: accepted under 2014, flagged
        row(10, kk_number="", registered_at="2019-01-01T08:00:00+07:00"),  # 11
        row(11, full_name="<script>alert(1)</script>"),  # 12
        row(12, birth_date="09-03-1988"),  # 13
        row(13, registered_at="01/05/2024"),  # 14
        row(14, address="x" * 10_000),  # 15
        row(15, id_number=own_nik, birth_date="1992-01-05", sex="F"),  # 16: the clerk's own NIK
        row(16, id_number=own_nik, birth_date="1992-01-05", sex="F", kk_number="",
            registered_at="2016-01-01"),  # 17: before the 2018 rule: accepted
        ["0857000799", "extra"],  # 18: wrong number of fields
        row(17, full_name="Robert'); DROP TABLE subscribers_registration;--"),  # 19
        row(18, registered_at="2099-01-01"),  # 20: in the future
        row(19, birth_date="1988-13-09", outlet_roid="ROZZZ00001"),  # 21: every fault shown
    ]  # fmt: skip
    path = write_csv(tmp_path / "legacy.csv", rows)
    errors_csv = tmp_path / "errors.csv"
    before = AuditEvent.objects.count()

    assert run_import(path, errors_csv=str(errors_csv)) == 1

    assert faults(errors_csv) == {
        (4, "outlet_roid"),
        (5, "id_number"),
        (6, "birth_date"),
        (7, "msisdn"),
        (8, "msisdn"),
        (9, "id_type"),
        (11, "kk_number"),
        (12, "full_name"),
        (13, "birth_date"),
        (14, "registered_at"),
        (15, "address"),
        (16, "id_number"),
        (18, "row"),
        (19, "full_name"),
        (20, "registered_at"),
        (21, "birth_date"),
        (21, "outlet_roid"),
    }
    err = capsys.readouterr().err
    assert "line 4: outlet_roid: " in err and "line 15: address: " in err
    assert own_nik not in err

    imported = Registration.objects.exclude(msisdn=taken_msisdn)
    assert sorted(imported.values_list("msisdn", flat=True)) == sorted(
        stored(r["msisdn"]) for r in (rows[0], rows[1], rows[8], rows[15])
    )
    created = StarterPack.objects.get(msisdn=new_msisdn)
    assert created.outlet == outlet and created.dealer == outlet.dealer
    assert created.status == StarterPack.Status.REGISTERED
    assert created.iccid == row(1)["iccid"]
    pack.refresh_from_db()
    other_pack.refresh_from_db()
    assert pack.status == StarterPack.Status.REGISTERED
    assert other_pack.status == StarterPack.Status.IN_STOCK

    first = Registration.objects.get(starter_pack=created)
    assert first.source == Registration.Source.IMPORT and first.clerk is None
    assert first.registered_at == datetime(2024, 5, 1, 10, 15, tzinfo=JAKARTA)
    # The file has no document_checked column: recorded as not known, never as a yes.
    assert first.consent_at == first.registered_at and first.document_checked is None
    # In force on 1 May 2024: the rules of 21 Nov 2018 (docs/rules.md); the registry agreed.
    assert first.policy.code == "2018-11" and first.status == Registration.Status.REGISTERED
    assert first.registry_checked_at is not None
    assert first.id_number_masked == "3273********0001"
    assert pii.decrypt(first.id_number_encrypted) == row(1)["id_number"]
    assert first.registration_number.startswith("SP240501")

    student = Registration.objects.get(id_type="student_card")
    assert student.policy.code == "2014" and student.status == Registration.Status.FLAGGED
    assert student.review_reasons[0]["code"] == "doubtful_document"
    assert Registration.objects.get(msisdn=pack.msisdn).registered_at == datetime(
        2025, 2, 3, tzinfo=JAKARTA
    )

    events = AuditEvent.objects.filter(action=imports.AUDIT_ACTION).order_by("pk")[1:]
    assert AuditEvent.objects.count() - before == 4 == len(events)
    assert {e.target_id for e in events} == {
        str(pk) for pk in imported.values_list("pk", flat=True)
    }
    for event in events:
        assert event.after["file"] == "legacy.csv" and event.after["line"] in (2, 3, 10, 17)
        assert "*" in event.after["id_number"]
    assert not any(row(n)["id_number"] in str(e.after) for e in events for n in (1, 2, 9, 16))

    # The same file again adds nothing, and reports the same rejections.
    counts = (Registration.objects.count(), StarterPack.objects.count(), AuditEvent.objects.count())
    errors_again = tmp_path / "errors2.csv"
    assert run_import(path, errors_csv=str(errors_again)) == 1
    assert faults(errors_again) == faults(errors_csv)
    assert counts == (
        Registration.objects.count(),
        StarterPack.objects.count(),
        AuditEvent.objects.count(),
    )
    assert "4 already imported" in capsys.readouterr().out


def test_all_good_exits_zero_and_reimport_adds_nothing(tmp_path, outlet, capsys):
    path = write_csv(tmp_path / "ok.csv", [row(n) for n in range(1, 8)])
    assert run_import(path) == 0
    assert Registration.objects.count() == 7 == AuditEvent.objects.count()
    assert run_import(path) == 0
    assert Registration.objects.count() == 7 == AuditEvent.objects.count()
    assert "7 already imported, 0 repeated in this file, 0 rejected" in capsys.readouterr().out


def test_same_row_twice_in_one_file_is_imported_once(tmp_path, outlet, capsys):
    path = write_csv(tmp_path / "twice.csv", [row(1), row(2), row(1)])
    assert run_import(path, chunk_size=2) == 0  # the repeat is in the next chunk
    assert Registration.objects.count() == 2
    capsys.readouterr()
    path = write_csv(tmp_path / "twice2.csv", [row(3), row(4), row(3)])
    assert run_import(path) == 0
    assert Registration.objects.count() == 4
    out = capsys.readouterr().out
    # Said as the repeat it is, against the earlier line: not "already imported".
    assert "line 4: repeated in this file (line 2): imported once." in out
    assert "0 already imported, 1 repeated in this file, 0 rejected" in out
    assert AuditEvent.objects.filter(action="registration.import").count() == 4


def test_a_file_that_is_no_utf8_text_is_said_so(tmp_path, outlet, capsys):
    import gzip

    text = Path(write_csv(tmp_path / "a.csv", [row(1)])).read_text(encoding="utf-8")
    for name, data, message in [
        ("le.csv", b"\xff\xfe" + text.encode("utf-16-le"), "The file is UTF-16 text"),
        ("be.csv", b"\xfe\xff" + text.encode("utf-16-be"), "The file is UTF-16 text"),
        ("nobom.csv", text.encode("utf-16-le"), "The file is UTF-16 text"),
        ("a.csv.gz", gzip.compress(text.encode()), "The file is compressed (gzip)"),
        ("book.xlsx", b"PK\x03\x04\x14\x00\x06\x00", "The file is a ZIP archive"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CommandError) as refused:
            call_command("import_registrations", str(path))
        assert refused.value.returncode == 2
        assert str(refused.value).startswith(f"{name}: {message}")
        assert "columns" not in str(refused.value)  # no header of escaped binary
    assert not Registration.objects.exists()


def test_a_field_over_the_csv_limit_and_the_line_prefix_in_indonesian(tmp_path, outlet, capsys):
    path = write_csv(tmp_path / "long.csv", [row(1, address="x" * 200_000), row(2)])
    errors_csv = tmp_path / "e.csv"
    with translation.override("id"):
        assert run_import(path, errors_csv=str(errors_csv)) == 1
    err = capsys.readouterr().err
    assert "baris 2: row: Sebuah kolom lebih panjang dari 131072 karakter." in err
    assert "field larger than field limit" not in err
    assert Registration.objects.count() == 1
    with translation.override("en"):
        assert run_import(write_csv(tmp_path / "l2.csv", [row(3, address="x" * 200_000)])) == 1
    assert "line 2: row: A field is longer than 131072 characters." in capsys.readouterr().err


def test_same_pack_for_two_buyers_in_one_file(tmp_path, outlet):
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "clash.csv", [row(1), row(2, msisdn=row(1)["msisdn"], iccid="")])
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(3, "msisdn")}
    assert Registration.objects.count() == 1


def test_iccid_of_another_pack(tmp_path, outlet, pack):
    errors_csv = tmp_path / "e.csv"
    path = write_csv(
        tmp_path / "iccid.csv",
        [
            row(1, iccid=pack.iccid),
            row(2, msisdn=pack.msisdn, iccid=make_iccid(5, prefix="896299")),
        ],
    )
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(2, "iccid"), (3, "iccid")}
    assert not Registration.objects.exists()


def test_cap_counts_rows_of_the_file(tmp_path, outlet):
    # The rule as written (docs/rules.md): beyond the cap only at the operator's own outlets or,
    # from 7 May 2018, at outlets it authorised in writing — never at another retail outlet
    # (the numbers beyond it used to be imported, flagged). The file's own rows count.
    same_id = {"id_number": row(1)["id_number"], "kk_number": row(1)["kk_number"]}
    rows = [row(n, **same_id) for n in range(1, 6)]
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "cap.csv", rows)
    assert run_import(path, chunk_size=3, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(5, "id_number"), (6, "id_number")}
    assert Registration.objects.count() == 3

    outlet.operator_authorised_from = date(2018, 5, 7)
    outlet.save()
    more = [row(n, **same_id) for n in range(6, 8)]
    assert run_import(write_csv(tmp_path / "cap2.csv", more)) == 0
    # Beyond the cap where the outlet may: imported, and flagged for a person to look at
    # (docs/decisions.md), as at the counter.
    assert Registration.objects.count() == 5
    beyond = Registration.objects.filter(msisdn__in=["62" + r["msisdn"][1:] for r in more])
    assert set(beyond.values_list("status", flat=True)) == {"flagged"}
    assert all(
        [note["code"] for note in reasons] == ["over_cap_permitted"]
        for reasons in beyond.values_list("review_reasons", flat=True)
    )
    assert set(Registration.objects.exclude(pk__in=beyond).values_list("status", flat=True)) == {
        "registered"
    }


def _second_write_fails(monkeypatch) -> list[int]:
    """The second chunk's write fails once everything of it is written (a disk full at
    commit): its transaction must take it all back. Returns the writes attempted."""
    real_write = judging.write_chunk
    calls: list[int] = []

    def write_then_crash(*args, **kwargs):
        calls.append(1)
        real_write(*args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(judging, "write_chunk", write_then_crash)
    return calls


def test_a_failed_chunk_leaves_nothing_half_written(tmp_path, outlet, monkeypatch, capsys):
    path = write_csv(tmp_path / "crash.csv", [row(n) for n in range(1, 6)])
    real_write = judging.write_chunk
    _second_write_fails(monkeypatch)
    with pytest.raises(RuntimeError):
        call_command("import_registrations", path, chunk_size=2)
    assert "stopped after 2 rows" in capsys.readouterr().err
    assert Registration.objects.count() == 2
    assert AuditEvent.objects.count() == 2
    assert StarterPack.objects.count() == 2

    monkeypatch.setattr(judging, "write_chunk", real_write)
    assert run_import(path, chunk_size=2) == 0
    assert Registration.objects.count() == 5 == AuditEvent.objects.count()
    assert "2 already imported" in capsys.readouterr().out


def test_not_utf8_row_is_rejected_alone(tmp_path, outlet):
    path = tmp_path / "latin1.csv"
    write_csv(path, [row(1), row(2, full_name="Siti Nur'aini"), row(3)])
    raw = path.read_bytes().replace(b"Nur'aini", b"Nur\xe9aini")
    path.write_bytes(raw)
    errors_csv = tmp_path / "e.csv"
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(3, "full_name")}
    assert Registration.objects.count() == 2


def test_wrong_header_imports_nothing(tmp_path, outlet):
    header = [name if name != "id_number" else "nik" for name in HEADER]
    path = write_csv(tmp_path / "bad.csv", [list(row(1).values())], header=header)
    with pytest.raises(CommandError) as exc:
        call_command("import_registrations", path)
    assert exc.value.returncode == 2
    assert ": id_number;" in str(exc.value) and ": nik)" in str(exc.value)  # missing; unknown
    assert not Registration.objects.exists()


def test_columns_in_any_order_with_bom_and_multiline_quoted_field(tmp_path, outlet):
    header = list(reversed(HEADER))
    path = tmp_path / "bom.csv"
    write_csv(path, [row(1), row(2, address="Jl. Kenanga No. 5\nBandung")], header=header)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert run_import(path) == 0
    assert Registration.objects.get(msisdn=stored(row(2)["msisdn"])).address == (
        "Jl. Kenanga No. 5 Bandung"
    )


def test_missing_file(tmp_path):
    with pytest.raises(CommandError) as exc:
        call_command("import_registrations", str(tmp_path / "nope.csv"))
    assert exc.value.returncode == 2


def test_pack_known_without_outlet_is_refused(tmp_path, outlet):
    dealer_stock = StarterPackFactory(outlet=None, dealer=outlet.dealer)
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "d.csv", [row(1, msisdn=dealer_stock.msisdn, iccid="")])
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(2, "msisdn")}


@pytest.mark.parametrize(
    ("model", "columns"),
    [
        (Registration, imports.REGISTRATION_COLUMNS),
        (StarterPack, imports.PACK_COLUMNS),
        (AuditEvent, imports.AUDIT_COLUMNS),
    ],
)
def test_copy_writes_every_column(model, columns):
    """COPY names its columns: a field added to these models must be added to the import too
    (the database has no defaults of Django's to fill it in) — but a generated column, which the
    database computes itself and COPY may not name."""
    every = {f.column for f in model._meta.concrete_fields if not f.generated} - (
        {"id"} if model is AuditEvent else set()
    )
    assert set(columns) == every


def test_worker_processes_give_the_same_result(tmp_path, outlet, clerk):
    rows = [row(n) for n in range(1, 12)] + [row(12, id_number="9973010903880012")]
    path = write_csv(tmp_path / "w.csv", rows)
    errors_csv = tmp_path / "e.csv"
    assert run_import(path, chunk_size=3, workers=2, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(13, "id_number")}
    assert Registration.objects.count() == 11 == AuditEvent.objects.count()
    lines = sorted(AuditEvent.objects.values_list("after__line", flat=True))
    assert lines == list(range(2, 13))


def test_a_clash_on_write_is_judged_again(tmp_path, outlet, monkeypatch):
    """A unique clash while writing (here a registration number drawn twice; in life a clerk
    registering the same pack meanwhile) rolls the chunk back and judges it again."""
    assert run_import(write_csv(tmp_path / "one.csv", [row(1)])) == 0
    taken = Registration.objects.get().registration_number
    real_numbers = writing.registration_numbers
    calls = []

    def clashing_numbers(days):
        calls.append(len(days))
        return [taken] * len(days) if len(calls) == 1 else real_numbers(days)

    monkeypatch.setattr(writing, "registration_numbers", clashing_numbers)
    assert run_import(write_csv(tmp_path / "two.csv", [row(2), row(3)]), workers=1) == 0
    assert calls == [2, 2]
    assert Registration.objects.count() == 3 == AuditEvent.objects.count()
    assert StarterPack.objects.count() == 3


def _stored_import() -> list[tuple]:
    """What an import stored, without what differs from run to run (ids, numbers, times, the
    ciphertexts' random IVs): registrations with their decrypted numbers, packs, audit rows."""
    volatile = {"id", "registration_number", "starter_pack", "created_at", "updated_at",
                "registry_checked_at"}  # fmt: skip
    state = []
    for registration in Registration.objects.select_related("starter_pack").order_by("msisdn"):
        values = {
            f.name: getattr(registration, f.attname)
            for f in Registration._meta.concrete_fields
            if f.name not in volatile and not f.name.endswith("_encrypted")
        }
        values["id_number"] = pii.decrypt(registration.id_number_encrypted)
        values["kk_number"] = pii.decrypt(registration.kk_number_encrypted)
        pack = registration.starter_pack
        values["pack"] = (pack.msisdn, pack.iccid, pack.dealer_id, pack.outlet_id, pack.status)
        event = AuditEvent.objects.get(target_id=str(registration.pk))
        values["audit"] = (
            event.actor_id, event.actor_label, event.action, event.target_type,
            event.target_repr.split()[1], event.request_id != "", event.before, event.after,
        )  # fmt: skip
        state.append(values)
    return state


def test_copy_and_bulk_create_store_the_same(tmp_path, outlet, monkeypatch, require_postgres):
    """PostgreSQL writes through COPY lines built by hand, other databases through
    bulk_create: both store the same, escaping included (backslashes, quotes, "\\N", tabs in
    the file name)."""
    same_id = {"id_number": row(9)["id_number"], "kk_number": row(9)["kk_number"]}
    outlet.operator_authorised_from = date(2018, 5, 7)  # may register beyond the cap
    outlet.save()
    rows = [
        row(1),
        row(2, address="Jl. Mawar\\Melati No. \\N 7, RT 01\\RW 02", full_name="Siti Nur\u2019aini"),
        row(3, id_type="student_card", id_number="SMA-12/0346", kk_number="",
            registered_at="2015-06-01T09:00:00"),  # flagged: review reasons as JSON
        row(4, id_type="passport", id_number="X1234567", nationality="MY", kk_number=""),
        row(5, iccid="", address='Gang "Buntu" <b', full_name="O'Brien-Smith, Jr."),
        *(row(n, **same_id) for n in range(6, 11)),  # over the cap, at an authorised outlet
        row(11, birth_place="Ciamis", full_name="Dede", address="Kp. Sukamaju \t RT 3"),
    ]  # fmt: skip
    path = write_csv(tmp_path / 'we"ird\\na\tme.csv', rows)
    errors_csv = tmp_path / "e.csv"
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert faults(errors_csv) == {(6, "address")}  # "<" is refused
    through_copy = _stored_import()
    assert len(through_copy) == len(rows) - 1
    assert through_copy[0]["audit"][7]["file"] == 'we"ird\\na\tme.csv'
    assert any("\\N" in values["address"] for values in through_copy)

    Registration.objects.all().delete()
    StarterPack.objects.all().delete()
    AuditEvent.objects.all().delete()
    monkeypatch.setattr(writing, "_use_copy", lambda: False)
    assert run_import(path) == 1
    assert _stored_import() == through_copy


def test_lookups_through_arrays_match_the_orm(
    tmp_path, outlet, other_outlet, clerk, require_postgres
):
    """The chunk's lookups on PostgreSQL (``= ANY`` arrays) find what the ORM's find."""
    staff = clerk.outlet_staff
    staff.id_number_digest, staff.kk_number_digest = pii.digest("A"), pii.digest("B")
    staff.save()
    in_stock = StarterPackFactory(outlet=outlet)
    elsewhere = StarterPackFactory(outlet=other_outlet)
    same_id = {"id_number": row(1)["id_number"], "kk_number": row(1)["kk_number"]}
    assert run_import(write_csv(tmp_path / "l.csv", [row(1), row(2, **same_id)])) == 0
    blocked = Registration.objects.order_by("pk").last()
    Registration.objects.filter(pk=blocked.pk).update(status=Registration.Status.BLOCKED)
    taken = Registration.objects.order_by("pk").first()
    msisdns = [in_stock.msisdn, elsewhere.msisdn, taken.msisdn, "6285799999999"]
    iccids = [elsewhere.iccid, "8962000000000000000"]
    args = (msisdns, iccids, [taken.id_number_digest, "x"])

    def normalised(found):
        packs, held = found
        return (sorted(packs, key=lambda pack: pack["id"]), sorted(held))

    arrays = normalised(judging._fetch_postgresql(*args))
    assert arrays == normalised(judging._fetch_orm(*args))
    packs, held = arrays
    assert {pack["msisdn"] for pack in packs} == {in_stock.msisdn, elsewhere.msisdn, taken.msisdn}
    assert held == [(taken.id_number_digest, 1)]  # the blocked registration is not counted
    # The dealer's people (end user only): its staff's NIK and KK, of every outlet.
    insiders = judging.insider_digests(dealer_ids=[outlet.dealer_id])[outlet.dealer_id]
    assert {pii.digest("A")} <= insiders.id_digests and pii.digest("B") in insiders.kk_digests


def test_with_worker_processes_a_fault_read_late_in_the_file_is_reported_in_its_language(
    tmp_path, outlet, clerk
):
    """The chunks after the first two are read beside the writing (the import's reader
    thread): a row broken there is reported at its line, in the import's language."""
    path = write_csv(tmp_path / "w.csv", [row(n) for n in range(1, 10)])
    with open(path, "a", encoding="utf-8", newline="") as fh:
        fh.write("only,three,fields\n")
    errors_csv = tmp_path / "e.csv"
    assert run_import(path, chunk_size=2, workers=2, errors_csv=str(errors_csv)) == 1
    with open(errors_csv, encoding="utf-8", newline="") as fh:
        reported = [(r["line"], r["reason"]) for r in csv.DictReader(fh)]
    assert reported == [("11", "This row has 3 fields; the header has 13.")]
    assert Registration.objects.count() == 9


# --- written beside the judging: a writer thread on a connection of its own -------------------
#
# Outside a transaction (as the command runs), each judged chunk is written by the import's
# writer thread on its own connection while the next chunk is judged: these tests commit for
# real (a test's transaction would hide its fixtures from the writer's connection).


def beside_writing(test):
    """Committed for real, with the writer thread on (``IMPORT_WRITER_THREAD``)."""
    return pytest.mark.usefixtures("writer_thread")(pytest.mark.django_db(transaction=True)(test))


@pytest.fixture
def writer_thread(settings):
    settings.IMPORT_WRITER_THREAD = True


def _writes_by_thread(monkeypatch, *, slow: bool = False) -> list[str]:
    """The names of the threads that write the chunks, in order; ``slow``: each write waits a
    moment first, so the next chunk is judged while it is not yet written."""
    real_write = judging.write_chunk
    threads = []

    def write(*args, **kwargs):
        threads.append(threading.current_thread().name)
        if slow:
            time.sleep(0.3)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(judging, "write_chunk", write)
    return threads


def _judged_ahead(monkeypatch) -> list[int]:
    """For each chunk judged, how many rows of the chunks before it were not yet committed."""
    real_fetch = judging.Lookups.fetch
    ahead = []

    def fetch(*args, unwritten=None, **kwargs):
        ahead.append(len(unwritten.by_msisdn) if unwritten is not None else 0)
        return real_fetch(*args, unwritten=unwritten, **kwargs)

    monkeypatch.setattr(judging.Lookups, "fetch", fetch)
    return ahead


@beside_writing
def test_written_beside_the_judging_stores_what_one_transaction_a_chunk_stores(
    tmp_path, outlet, other_outlet, monkeypatch, require_postgres
):
    """Every way a chunk's verdicts depend on the chunks before it (packs they created or took,
    ICCIDs, the numbers an ID holds, a row repeated) gives the same rows, refusals and audit
    rows whether the chunk before was committed or is still being written."""
    stock = StarterPackFactory(outlet=outlet)
    same_id = {"id_number": row(1)["id_number"], "kk_number": row(1)["kk_number"]}
    rows = [
        row(1), row(2, msisdn=stock.msisdn, iccid=stock.iccid),  # a pack in stock taken
        row(1),  # the same sale again: skipped
        row(3, msisdn=row(1)["msisdn"], iccid=""),  # a pack the chunk before registered
        row(4, msisdn=stock.msisdn, iccid=""),  # the pack in stock, taken the chunk before
        row(5, iccid=row(1)["iccid"]),  # the ICCID of a pack created the chunk before
        row(6, **same_id), row(7, **same_id),  # the cap: 3 numbers with row 1
        row(8, **same_id),  # over the cap, the chunks before counted
        row(9, outlet_roid="ROJKT000002", **same_id),  # over the cap too
        row(10),
    ]  # fmt: skip
    path = write_csv(tmp_path / "chunks.csv", rows)

    def imported(**options):
        found = []
        with open(path, encoding="utf-8", newline="") as fh:
            result = imports.registrations_import(
                rows=imports.read_registration_csv(fh),
                chunk_size=2,
                on_error=found.append,
                **options,
            )
        return (result.rows, result.imported, result.skipped, result.packs_created), found

    writers = _writes_by_thread(monkeypatch, slow=True)
    ahead = _judged_ahead(monkeypatch)
    beside = imported()
    assert set(writers) == {"import-writer"}
    assert sum(1 for rows in ahead if rows) >= 3  # judged while the chunk before was unwritten
    assert beside[0] == (11, 5, 1, 4)
    assert [(error.line, error.field) for error in beside[1]] == [
        (5, "msisdn"), (6, "msisdn"), (7, "iccid"), (10, "id_number"), (11, "id_number"),
    ]  # fmt: skip
    stored_beside = _stored_import()

    Registration.objects.all().delete()
    StarterPack.objects.exclude(pk=stock.pk).delete()
    StarterPack.objects.filter(pk=stock.pk).update(status=StarterPack.Status.IN_STOCK)
    AuditEvent.objects.all().delete()
    writers.clear()
    assert imported(background=False) == beside
    assert set(writers) == {threading.current_thread().name}
    assert _stored_import() == stored_beside


@beside_writing
def test_a_chunk_failing_while_the_one_before_is_written(tmp_path, outlet, monkeypatch, capsys):
    """The chunk handed to the writer is written whole and reported; the chunk being judged when
    the import fails leaves nothing; a re-run imports the rest."""
    path = write_csv(tmp_path / "crash.csv", [row(n) for n in range(1, 6)])
    judged_second = threading.Event()
    real_write, real_fetch = judging.write_chunk, judging.Lookups.fetch
    fetches = []

    def write_once_the_next_fails(*args, **kwargs):
        judged_second.wait(10)  # the next chunk fails while this one is written
        real_write(*args, **kwargs)

    def fetch_then_fail(*args, **kwargs):
        fetches.append(1)
        if len(fetches) == 2:
            judged_second.set()
            raise RuntimeError("connection lost")
        return real_fetch(*args, **kwargs)

    monkeypatch.setattr(judging, "write_chunk", write_once_the_next_fails)
    monkeypatch.setattr(judging.Lookups, "fetch", fetch_then_fail)
    with pytest.raises(RuntimeError):
        call_command("import_registrations", path, chunk_size=2)
    assert "stopped after 2 rows" in capsys.readouterr().err
    assert Registration.objects.count() == 2 == AuditEvent.objects.count()
    assert StarterPack.objects.count() == 2

    monkeypatch.setattr(judging, "write_chunk", real_write)
    monkeypatch.setattr(judging.Lookups, "fetch", real_fetch)
    assert run_import(path, chunk_size=2) == 0
    assert Registration.objects.count() == 5 == AuditEvent.objects.count()
    assert "2 already imported" in capsys.readouterr().out


@beside_writing
def test_a_failed_write_leaves_it_and_the_chunks_after_it_unwritten(
    tmp_path, outlet, monkeypatch, capsys
):
    """A chunk whose write fails is rolled back whole, and the chunks judged after it (on it
    being written) are not written."""
    path = write_csv(tmp_path / "crash.csv", [row(n) for n in range(1, 8)])
    real_write = judging.write_chunk
    calls = _second_write_fails(monkeypatch)
    with pytest.raises(RuntimeError):
        call_command("import_registrations", path, chunk_size=2)
    assert "stopped after 2 rows" in capsys.readouterr().err
    assert len(calls) == 2
    assert Registration.objects.count() == 2 == AuditEvent.objects.count()
    assert StarterPack.objects.count() == 2

    monkeypatch.setattr(judging, "write_chunk", real_write)
    assert run_import(path, chunk_size=2) == 0
    assert Registration.objects.count() == 7 == AuditEvent.objects.count()
    assert "2 already imported" in capsys.readouterr().out


@beside_writing
def test_a_clash_in_the_writer_is_judged_again_with_the_chunks_after_it(
    require_postgres, tmp_path, outlet, monkeypatch
):
    """A unique clash rolls the chunk back; it and the chunks judged after it (on it being
    written) are judged again, in order: the repeat of one of its rows in the next chunk is
    still skipped, not imported twice nor refused."""
    assert run_import(write_csv(tmp_path / "one.csv", [row(1)])) == 0
    taken = Registration.objects.get().registration_number
    real_numbers = writing.registration_numbers
    calls = []

    def clashing_numbers(days):
        calls.append(len(days))
        return [taken] * len(days) if len(calls) == 1 else real_numbers(days)

    monkeypatch.setattr(writing, "registration_numbers", clashing_numbers)
    writers = _writes_by_thread(monkeypatch)
    rows = [row(2), row(3), row(2), row(4), row(5)]
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "two.csv", rows)
    assert run_import(path, chunk_size=2, errors_csv=str(errors_csv)) == 0
    assert faults(errors_csv) == set()
    assert calls[:2] == [2, 2] and sum(calls) - 2 == 4
    assert set(writers) == {"import-writer"}
    assert Registration.objects.count() == 5 == AuditEvent.objects.count()
    lines = sorted(
        AuditEvent.objects.filter(after__file="two.csv").values_list("after__line", flat=True)
    )
    assert lines == [2, 3, 5, 6]


@beside_writing
def test_a_pack_moved_between_the_judging_and_the_write_is_judged_again(
    require_postgres, tmp_path, outlet, other_outlet, monkeypatch
):
    """The writer takes a pack in stock only as the rows were judged on it (in stock, at the
    row's outlet): a pack moved to another outlet meanwhile makes the chunk be judged again,
    and the row is refused as it would have been."""
    stock = StarterPackFactory(outlet=outlet)
    real_write = judging.write_chunk
    calls = []

    def move_then_write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # another session moves the pack and commits, before the claim

            def move():
                StarterPack.objects.filter(pk=stock.pk).update(outlet=other_outlet)
                connection.close()

            mover = threading.Thread(target=move)
            mover.start()
            mover.join()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(judging, "write_chunk", move_then_write)
    errors_csv = tmp_path / "e.csv"
    path = write_csv(tmp_path / "moved.csv", [row(1), row(2, msisdn=stock.msisdn, iccid="")])
    assert run_import(path, errors_csv=str(errors_csv)) == 1
    assert len(calls) == 2  # written once the chunk was judged again
    with open(errors_csv, encoding="utf-8", newline="") as fh:
        reported = [(r["line"], r["field"], r["reason"]) for r in csv.DictReader(fh)]
    assert reported == [("3", "msisdn", "This starter pack is in the stock of another outlet.")]
    assert Registration.objects.count() == 1 == AuditEvent.objects.count()
    stock.refresh_from_db()
    assert stock.status == StarterPack.Status.IN_STOCK and stock.outlet == other_outlet


def test_a_row_without_a_kk_on_a_family_card_of_the_dealers_people_is_flagged(tmp_path, outlet):
    """A rule set that asks for no KK (2026-07 on): the family card the population registry
    knows for the buyer is what the end-user rule looks at, as at the counter."""
    from outlets.models import OutletStaff
    from tests.factories import StaffFactory

    staff_kk = make_kk(recorded=date(2012, 5, 14), region="327301", serial=1)
    StaffFactory(outlet=outlet)
    OutletStaff.objects.filter(outlet=outlet).update(kk_number_digest=pii.digest(staff_kk))
    on_staff_card = row(1, registered_at="2026-08-03T10:15:00")  # in the registry on staff_kk
    path = write_csv(
        tmp_path / "kk.csv",
        [
            {**on_staff_card, "kk_number": ""},
            row(2, kk_number="", registered_at="2026-08-03T10:16:00"),
        ],
    )

    assert run_import(path) == 0

    flagged = Registration.objects.get(msisdn=stored(on_staff_card["msisdn"]))
    assert flagged.status == Registration.Status.FLAGGED
    assert [r["code"] for r in flagged.review_reasons] == ["insider_kk"]
    assert Registration.objects.filter(status=Registration.Status.REGISTERED).count() == 1
