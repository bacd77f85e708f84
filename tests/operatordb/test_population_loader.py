"""load_population_registry: all or nothing (line, field, reason), idempotent, held the portal's
way; and the contract for an integrator who loads people the tests never saw: the API then
registers them, and refuses what disagrees with the registry at the field."""

import io
from datetime import date

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image
from rest_framework.test import APIClient

from core import pii
from core.registry import get_registry
from identity.idgen import make_kk, make_nik
from identity.idrules import normalize_name_for_comparison
from operatordb.models import PopulationRecord
from tests.conftest import buyer_data
from tests.factories import StarterPackFactory

pytestmark = pytest.mark.django_db

HEADER = "nik,kk_number,full_name,birth_date,sex"
AYU = make_nik(birth_date=date(1996, 9, 30), sex="F", province="73", regency="71",
               district="03", serial=3031)  # fmt: skip
AYU_KK = make_kk(recorded=date(2021, 2, 11), region="737103", serial=1207)
GEDE = make_nik(birth_date=date(1975, 4, 1), sex="M", province="51", regency="03",
                district="01", serial=77)  # fmt: skip
GEDE_KK = make_kk(recorded=date(2004, 8, 17), region="510301", serial=300)


def _face(path, seed: int) -> None:
    import random

    rng = random.Random(seed)
    picture = Image.new("RGB", (9, 8))
    for y in range(8):
        for x in range(9):
            v = rng.randint(20, 235)
            picture.putpixel((x, y), (v, v, v))
    picture.resize((450, 400), Image.NEAREST).save(path)


def _write(tmp_path, lines, name="people.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_good_file_loads_and_loading_again_updates(tmp_path, capsys):
    _face(tmp_path / "ayu.png", 1)
    path = _write(tmp_path, [
        f"{HEADER},birth_place,head_of_family,face_photo",
        f"{AYU},{AYU_KK},Andi Ayu Lestari,1996-09-30,F,Makassar,0,ayu.png",
        f'{GEDE},{GEDE_KK},"I Gede Putu, S.T.",1975-04-01,M,Badung,1,',
    ])  # fmt: skip
    call_command("load_population_registry", path)
    assert "2 new" in capsys.readouterr().out
    ayu = PopulationRecord.objects.get(nik_digest=pii.digest(AYU))
    assert (ayu.full_name, ayu.name_key, ayu.birth_place) == (
        "Andi Ayu Lestari", "andiayulestari", "Makassar")  # fmt: skip
    assert len(ayu.face_hash) == 16 and AYU not in str(PopulationRecord.objects.values())
    gede = PopulationRecord.objects.get(nik_digest=pii.digest(GEDE))
    assert gede.head_of_family and gede.face_hash == "" and gede.kk_digest == pii.digest(GEDE_KK)

    call_command("load_population_registry", path)
    assert "0 new, 0 updated, 2 unchanged" in capsys.readouterr().out
    # Dukcapil corrected Gede's birth date: loading again updates him, nobody else.
    corrected = _write(tmp_path, [HEADER, f"{GEDE},{GEDE_KK},I Gede Putu,1975-04-11,M"], "v2.csv")
    call_command("load_population_registry", corrected)
    assert "0 new, 1 updated" in capsys.readouterr().out
    assert PopulationRecord.objects.get(nik_digest=pii.digest(GEDE)).birth_date == date(1975, 4, 11)
    assert PopulationRecord.objects.count() == 2


def test_a_file_with_any_bad_row_is_rejected_whole(tmp_path, capsys):
    path = _write(tmp_path, [
        f"{HEADER},face_photo",
        f"{AYU},{AYU_KK},Andi Ayu Lestari,1996-09-30,F,",
        f"9901010101010001,{AYU_KK},X,1990-01-01,F,",
        f"{GEDE},123,<script>,1975-13-01,Q,missing.png",
        f"{AYU},{AYU_KK},Andi Ayu,1996-09-30,F,",
    ])  # fmt: skip
    with pytest.raises(CommandError, match="nothing was loaded"):
        call_command("load_population_registry", path)
    err = capsys.readouterr().err
    assert "line 3, nik:" in err
    for field in ("kk_number", "full_name", "birth_date", "sex", "face_photo"):
        assert f"line 4, {field}:" in err
    assert "line 5, nik: This NIK is already on line 2" in err
    assert not PopulationRecord.objects.exists()


def test_a_wrong_header_is_refused_before_any_row(tmp_path, capsys):
    path = _write(tmp_path, ["nik,full_name,birth_date,sex,hobby", f"{AYU},A,1996-09-30,F,x"])
    with pytest.raises(CommandError):
        call_command("load_population_registry", path)
    err = capsys.readouterr().err
    assert "missing column(s): kk_number" in err and "unknown column(s): hobby" in err


def test_the_registry_answers_from_the_loaded_table(tmp_path):
    path = _write(tmp_path, [HEADER, f"{AYU},{AYU_KK},Andi Ayu Lestari,1996-09-30,F"])
    call_command("load_population_registry", path)
    found = get_registry().lookup([AYU, GEDE], timeout=1.0)
    assert list(found) == [AYU]
    assert found[AYU].kk_digest == pii.digest(AYU_KK) and found[AYU].sex == "F"


def test_the_registry_answers_the_same_when_the_caller_holds_the_digests(tmp_path):
    """The bulk import passes the NIKs' digests it computed already: the same records come
    back, every field of them, as when the registry digests the NIKs itself."""
    path = _write(tmp_path, [
        HEADER,
        f"{AYU},{AYU_KK},Andi Ayu Lestari,1996-09-30,F",
        f"{GEDE},{GEDE_KK},I Gede Putu,1975-04-01,M",
    ])  # fmt: skip
    call_command("load_population_registry", path)
    asked = [AYU, GEDE, make_nik(birth_date=date(1980, 1, 1), sex="M", serial=9)]
    plain = get_registry().lookup(asked, timeout=1.0)
    digests = {nik: pii.digest(nik) for nik in asked}
    assert get_registry().lookup(asked, timeout=1.0, digests=digests) == plain
    assert set(plain) == {AYU, GEDE}
    gede = plain[GEDE]
    assert (gede.nik_digest, gede.full_name, gede.birth_date, gede.sex) == (
        pii.digest(GEDE),
        "I Gede Putu",
        date(1975, 4, 1),
        "M",
    )
    assert not gede.has_face_reference and gede.kk_digest == pii.digest(GEDE_KK)


def test_an_integrator_loads_new_people_and_registers_them_through_the_api(tmp_path, clerk, outlet):
    """People no test fixture knows, loaded by the command; the API registers one (NIK + face,
    the rules in force) and refuses what disagrees with the registry, at its field."""
    _face(tmp_path / "ayu.png", 7)
    call_command(
        "load_population_registry",
        _write(tmp_path, [
            f"{HEADER},face_photo",
            f"{AYU},{AYU_KK},Andi Ayu Lestari,1996-09-30,F,ayu.png",
            f"{GEDE},{GEDE_KK},I Gede Putu,1975-04-11,M,",
        ]),
    )  # fmt: skip
    client = APIClient()  # Bahasa Indonesia: the portal's default
    client.force_authenticate(clerk)
    face = io.BytesIO((tmp_path / "ayu.png").read_bytes())
    face.name = "wajah.png"

    def post(pack, **fields):
        face.seek(0)
        body = {**buyer_data(pack, in_registry=False), **fields}
        ktp = io.BytesIO()
        Image.new("RGB", (640, 480), (90, 90, 90)).save(ktp, "JPEG")
        ktp.seek(0)
        ktp.name = "ktp.jpg"
        return client.post("/api/v1/registrations/", {**body, "id_photo": ktp,
                                                      "face_photo": face}, format="multipart")  # fmt: skip

    ayu = {"id_number": AYU, "kk_number": "", "full_name": "ANDI AYU LESTARI",
           "birth_date": "1996-09-30", "sex": "F", "birth_place": "Makassar"}  # fmt: skip
    created = post(StarterPackFactory(outlet=outlet), **ayu)
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "registered"

    # Gede's NIK says 1 April; the registry (corrected) says 11 April: the NIK's date is refused
    # at its field, in Bahasa Indonesia, saying what to do.
    gede = {"id_number": GEDE, "kk_number": GEDE_KK, "full_name": "I Gede Putu",
            "birth_date": "1975-04-01", "sex": "M"}  # fmt: skip
    refused = post(StarterPackFactory(outlet=outlet), **gede)
    assert refused.status_code == 400
    assert "Dukcapil" in refused.json()["birth_date"][0]
    # A NIK nobody loaded: refused at id_number.
    stranger = {**gede, "id_number": make_nik(birth_date=date(1975, 4, 1), sex="M",
                                              province="51", serial=78)}  # fmt: skip
    unknown = post(StarterPackFactory(outlet=outlet), **stranger)
    assert "tidak terdaftar di Dukcapil" in unknown.json()["id_number"][0]


def test_a_name_whose_key_is_longer_than_the_name_is_held_with_its_whole_key(tmp_path):
    """U+FDFA, a letter the portal accepts in a name, is 15 letters (and 3 spaces) under NFKC:
    the key of 10 of them is 150 characters, stored whole (the registry compares it with the
    key of the name a buyer gives)."""
    name = "\ufdfa" * 10
    call_command("load_population_registry", _write(tmp_path, [
        HEADER, f"{AYU},{AYU_KK},{name},1996-09-30,F",
    ]))  # fmt: skip
    ayu = PopulationRecord.objects.get(nik_digest=pii.digest(AYU))
    assert (ayu.full_name, len(ayu.name_key)) == (name, 150)
    assert ayu.name_key == normalize_name_for_comparison(name)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_file_that_cannot_be_opened_is_said_so_with_exit_status_2(tmp_path, kind):
    """As the snapshot loader and the import say it: "Cannot open …", exit 2, no traceback."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    path = tmp_path / "people.csv"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(CommandError, match="Cannot open") as refused:
        call_command("load_population_registry", str(path))
    assert refused.value.returncode == 2
