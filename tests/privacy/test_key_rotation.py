"""Key rotation without downtime: rows under key A stay readable while [B, A] is configured,
the rotation re-encrypts them under B, and afterwards B alone reads everything. Digests (their
own key) never change."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command

from core import pii
from operatordb.models import OperatorSubscriber
from outlets.models import OutletStaff
from privacy import services
from privacy.encrypted_fields import ENCRYPTED_FIELDS
from privacy.models import PrivacyJob
from subscribers.models import Registration
from tests.factories import StaffFactory, UserFactory

from .conftest import nik

pytestmark = pytest.mark.django_db
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def every_value() -> list[tuple[str, int, str, str]]:
    values = []
    for label, fields in ENCRYPTED_FIELDS.items():
        model = apps.get_model(label)
        for pk, *tokens in model.objects.order_by("pk").values_list("pk", *fields):
            values.extend(
                (label, pk, name, token)
                for name, token in zip(fields, tokens, strict=True)
                if token
            )
    return values


@pytest.fixture
def encrypted_under_a(settings, register, outlet):
    """Two registrations, a staff member's own ID and an operator record, all under key A."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    registrations = [register(41), register(42)]
    StaffFactory(
        user=UserFactory(username="staff_with_id"),
        outlet=outlet,
        id_number_encrypted=pii.encrypt(nik(50)),
        id_number_digest=pii.digest(nik(50)),
        kk_number_encrypted=pii.encrypt("3171010203150007"),
    )
    OperatorSubscriber.objects.create(
        msisdn=registrations[0].msisdn, status="active", id_number_encrypted=pii.encrypt(nik(41))
    )
    values = every_value()
    assert len(values) == 2 * 2 + 2 + 1
    return {
        "plain": {(label, pk, name): pii.decrypt(token) for label, pk, name, token in values},
        "digests": list(
            Registration.objects.order_by("pk").values_list("id_number_digest", "kk_number_digest")
        ),
        "updated_at": list(
            Registration.objects.order_by("pk").values_list("updated_at", flat=True)
        ),
    }


def decrypt_all() -> dict:
    return {(label, pk, name): pii.decrypt(token) for label, pk, name, token in every_value()}


def test_rotation_re_encrypts_everything_under_the_new_key(settings, encrypted_under_a):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(ValueError):
        decrypt_all()  # B alone cannot read A's rows: the old key must stay until rotation ends

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert decrypt_all() == encrypted_under_a["plain"]  # no downtime: both keys read
    with pytest.raises(CommandError, match="keep the old keys"):
        call_command("rotate_encryption_keys", "--verify", stdout=StringIO())

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "values re-encrypted so far" in out.getvalue()
    job = PrivacyJob.objects.get(kind=PrivacyJob.Kind.KEY_ROTATION)
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts["rotated"] == 7 and job.counts["unreadable"] == 0

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert decrypt_all() == encrypted_under_a["plain"]
    call_command("rotate_encryption_keys", "--verify", stdout=StringIO())  # no error
    assert (
        list(
            Registration.objects.order_by("pk").values_list("id_number_digest", "kk_number_digest")
        )
        == encrypted_under_a["digests"]
    )
    # Rotation is not a change of the registration: incremental reconciliation ignores it.
    assert (
        list(Registration.objects.order_by("pk").values_list("updated_at", flat=True))
        == encrypted_under_a["updated_at"]
    )


def test_second_rotation_writes_nothing(settings, encrypted_under_a):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    call_command("rotate_encryption_keys", stdout=StringIO())
    before = every_value()

    call_command("rotate_encryption_keys", stdout=StringIO())

    assert every_value() == before
    latest = PrivacyJob.objects.filter(kind=PrivacyJob.Kind.KEY_ROTATION).latest("pk")
    assert latest.counts["rotated"] == 0 and latest.counts["already_current"] == 7


def test_interrupted_rotation_resumes_from_its_cursor(settings, encrypted_under_a):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    settings.PRIVACY_CHUNK_SIZE = 1

    def killed(message):
        raise KeyboardInterrupt

    job = services.key_rotation_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)
    with pytest.raises(KeyboardInterrupt):
        services.privacy_job_run(job_id=job.pk, progress=killed)
    job.refresh_from_db()
    assert job.cursor == {"model": "subscribers.Registration", "last": job.cursor["last"]}
    assert job.counts["rows"] == 1

    settings.PRIVACY_JOB_STALE_SECONDS = 0
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)

    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    # Each row read once, none twice: registrations, outlet staff (the clerk's too), operator.
    total = sum(apps.get_model(label).objects.count() for label in ENCRYPTED_FIELDS)
    assert job.counts["rows"] == total == 2 + 2 + 1
    assert PrivacyJob.objects.filter(kind=PrivacyJob.Kind.KEY_ROTATION).count() == 1
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert decrypt_all() == encrypted_under_a["plain"]


def test_failed_rotation_is_resumed_by_the_command(settings, encrypted_under_a, monkeypatch):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    calls = {"n": 0}
    real_rotate = pii.rotate

    def flaky(token):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real_rotate(token)

    monkeypatch.setattr(pii, "rotate", flaky)
    with pytest.raises(RuntimeError):
        call_command("rotate_encryption_keys", stdout=StringIO())
    job = PrivacyJob.objects.get()
    assert job.status == PrivacyJob.Status.FAILED and "disk full" in job.error

    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert f"resuming job #{job.pk}" in out.getvalue()
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert decrypt_all() == encrypted_under_a["plain"]


def test_every_encrypted_column_is_rotated():
    """A new ``*_encrypted`` field must be added to ENCRYPTED_FIELDS, or removing an old key
    would make it unreadable."""
    found = {}
    for model in apps.get_models():
        names = tuple(f.name for f in model._meta.concrete_fields if f.name.endswith("_encrypted"))
        if names:
            found[model._meta.label] = names
    assert found == ENCRYPTED_FIELDS


def test_staff_and_operator_rows_are_covered(settings, encrypted_under_a):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    call_command("rotate_encryption_keys", stdout=StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    staff = OutletStaff.objects.exclude(id_number_encrypted="").get()
    assert pii.decrypt(staff.id_number_encrypted) == nik(50)
    assert pii.decrypt(OperatorSubscriber.objects.get().id_number_encrypted) == nik(41)
