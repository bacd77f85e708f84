"""The load test's parts, at toy scale: the real run is `make loadtest`, not part of `make test`.

The locustfile is only ever loaded in a child process: importing locust monkey-patches the
standard library with gevent, which this test process must not get.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from loadtest import report
from loadtest.seed import database_name_allowed, seed

ROOT = Path(__file__).resolve().parents[2]


def child(code: str, **env) -> str:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def test_the_locustfile_loads_and_offers_its_users():
    listed = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "loadtest/locustfile.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    for user in ("ClerkUser", "ReviewerUser", "RegulatorUser", "HealthUser"):
        assert user in listed.stdout


def test_the_seed_refuses_a_database_not_named_for_load_tests():
    assert database_name_allowed("satupintu_load")
    assert database_name_allowed("test_helper_load")
    assert not database_name_allowed("satupintu")
    assert not database_name_allowed("test")


@pytest.mark.django_db
def test_seed_at_toy_scale_and_a_clerks_request_passes_the_rules(require_postgres, tmp_path):
    from accounts.models import ApiToken, User
    from compliance.models import ReviewItem
    from outlets.models import StarterPack
    from subscribers import services
    from subscribers.models import Registration

    people = seed(clerks=2, packs=3, reviewers=1, registrations=20, review_items=5)
    json.dumps(people)  # what the locustfile reads

    assert len(people["clerks"]) == 2 and len(people["reviewers"]) == 1
    clerk = people["clerks"][0]
    assert (
        ApiToken.objects.get(digest=ApiToken.digest_of(clerk["token"])).user.username
        == clerk["username"]
    )
    assert (
        StarterPack.objects.filter(
            msisdn__in=clerk["msisdns"], outlet__roid=clerk["roid"], status="in_stock"
        ).count()
        == 3
    )
    assert Registration.objects.count() == 20
    assert ReviewItem.objects.filter(status="open").count() == 5
    reviewer = User.objects.get(username=people["reviewers"][0]["username"])
    assert reviewer.role == User.Role.GRAPARI
    assert reviewer.check_password(people["reviewers"][0]["password"])
    assert ApiToken.objects.filter(digest=ApiToken.digest_of(people["regulator"]["token"])).exists()

    # The body and photos a ClerkUser sends, made by the locustfile itself (in a child).
    out = tmp_path / "request"
    out.mkdir()
    child(
        "import json, sys; sys.argv = ['x']\n"
        "from loadtest import locustfile as lf\n"
        f"body = lf.buyer({clerk['n']}, 1, {clerk['msisdns'][0]!r})\n"
        f"open({str(out / 'body.json')!r}, 'w').write(json.dumps(body))\n"
        f"open({str(out / 'id.jpg')!r}, 'wb').write(lf.camera_jpeg(1280, 960, 1))\n"
        f"open({str(out / 'face.jpg')!r}, 'wb').write(lf.face_jpeg())\n"
    )
    body = json.loads((out / "body.json").read_text())
    id_photo, face_photo = ((out / name).read_bytes() for name in ("id.jpg", "face.jpg"))
    assert 100_000 < len(id_photo) < 1_000_000 and 100_000 < len(face_photo) < 1_000_000
    # The rules in force (2026-07) ask for the NIK and a face the population registry
    # verifies, and an ID photo: the request passes every rule (the seed put the buyer in the
    # mock registry, with the load test's face).
    prepared = services.registration_prepare(
        clerk=User.objects.get(username=clerk["username"]),
        data=body,
        id_photo=SimpleUploadedFile("ktp.jpg", id_photo, "image/jpeg"),
        face_photo=SimpleUploadedFile("wajah.jpg", face_photo, "image/jpeg"),
    )
    assert prepared.policy.citizen_proof == "nik_face" and prepared.policy.id_photo_required
    assert prepared.registry.face.matched
    assert prepared.pack.msisdn == clerk["msisdns"][0]


def _phase(tmp_path, name, records, spawned=1.0):
    path = tmp_path / f"{name}.json"
    marks = {"start": 0.0, "spawned": spawned, "stop": 11.0, "client_cpu": 0.5}
    path.write_text(json.dumps({"phase": name, "marks": marks, "users": 3, "records": records}))
    return str(path)


def test_the_report_counts_sustained_registrations_and_fails_on_any_error(
    tmp_path, monkeypatch, capsys
):
    ceiling = _phase(tmp_path, "ceiling", [["GET /healthz", 5.0, 2.0, False, ""]] * 10)
    ok = [[report.REGISTRATION, 2.0 + i, 100.0 + i, False, ""] for i in range(10)]
    ok.append([report.REGISTRATION, 0.5, 90.0, False, ""])  # during the ramp: not sustained
    mixed = _phase(tmp_path, "mixed", ok)
    monkeypatch.setattr(sys, "argv", ["report", ceiling, mixed])
    assert report.main() == 0
    printed = capsys.readouterr().out
    assert "errors: none" in printed
    assert report.sustained(json.loads(Path(mixed).read_text()), report.REGISTRATION)[2] == 10

    failed = _phase(tmp_path, "mixed", [*ok, [report.REGISTRATION, 3.0, 5.0, True, "500"]])
    monkeypatch.setattr(sys, "argv", ["report", ceiling, failed])
    assert report.main() == 1
    assert "1 failed requests" in capsys.readouterr().out
