"""Key rotation without downtime: rows under key A stay readable while [B, A] is configured,
the rotation re-encrypts them under B, and afterwards B alone reads everything. Digests (their
own key) never change."""

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from celery.app.task import Task
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.models import Clarification, ClarificationAnswer, RegistrationVersion
from core import pii
from holders.models import SmsMessage
from outlets.models import OutletApplication, OutletStaff
from privacy import services
from privacy.encrypted_fields import ENCRYPTED_FIELDS
from privacy.keys import key_status
from privacy.models import ErasureLedger, PrivacyJob
from subscribers.models import Registration
from subscribers.services import registration_create
from tests.conftest import buyer_data, photo_upload
from tests.factories import DealerAdminFactory, StaffFactory, StarterPackFactory, UserFactory
from tests.faults.conftest import second_connection

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


KK = "3171010203150007"


@pytest.fixture
def register(clerk, outlet):
    """``register(serial)``: a registration as the counter writes it. Its photos are never
    processed: rotation does not touch them, and each test stays short."""

    def make(serial: int = 42) -> Registration:
        pack = StarterPackFactory(outlet=outlet)
        return registration_create(
            clerk=clerk,
            data=buyer_data(pack, id_number=nik(serial)),
            id_photo=photo_upload("ktp.jpg"),
            face_photo=photo_upload("face.jpg"),
        )

    return make


def fill_every_encrypted_table(register, outlet, clerk) -> None:
    """Rows in every table of ENCRYPTED_FIELDS, under whatever key is configured: two
    registrations, a staff member's own ID, an operator record, a clarification answer with a
    proposed correction and the version an accepted correction replaced."""
    registrations = [register(41), register(42)]
    StaffFactory(
        user=UserFactory(username="staff_with_id"),
        outlet=outlet,
        id_number_encrypted=pii.encrypt(nik(50)),
        id_number_digest=pii.digest(nik(50)),
        kk_number_encrypted=pii.encrypt(KK),
    )
    now = timezone.now()
    clarification = Clarification.objects.create(
        msisdn=registrations[1].msisdn,
        registration=registrations[1],
        outlet=outlet,
        dealer=outlet.dealer,
        opened_at=now,
        due_at=now + timedelta(days=7),
    )
    answer = ClarificationAnswer.objects.create(
        clarification=clarification,
        answered_by=clerk,
        explanation="Salah ketik NIK",
        correction={"id_number": "3171********0051"},
        correction_id_number_encrypted=pii.encrypt(nik(51)),
        correction_kk_number_encrypted=pii.encrypt(KK),
    )
    RegistrationVersion.objects.create(
        registration=registrations[1],
        version=1,
        values={"full_name": registrations[1].full_name},
        id_number_encrypted=pii.encrypt(nik(52)),
        kk_number_encrypted=pii.encrypt(KK),
        replaced_at=now,
        answer=answer,
    )
    # The end-user-only rule's people (an outlet's owner, an application's, a dealer admin)
    # and a minor's head of family (docs/rules.md).
    owner = {"owner_id_number_encrypted": pii.encrypt(nik(53)),
             "owner_kk_number_encrypted": pii.encrypt(KK)}  # fmt: skip
    type(outlet).objects.filter(pk=outlet.pk).update(**owner)
    OutletApplication.objects.create(
        dealer=outlet.dealer, name="Konter Baru", owner_name="Sri", address="Jl. 1",
        region="Kota Semarang", province="33", **owner,
    )  # fmt: skip
    DealerAdminFactory(dealer=outlet.dealer, id_number_encrypted=pii.encrypt(nik(54)),
                       kk_number_encrypted=pii.encrypt(KK))  # fmt: skip
    Registration.objects.filter(pk=registrations[0].pk).update(
        guardian_id_number_encrypted=pii.encrypt(nik(55))
    )
    # The holder's door: an SMS with a code, waiting to be sent.
    SmsMessage.objects.create(
        to=registrations[0].msisdn, body_encrypted=pii.encrypt("kode 123456"), created_at=now
    )
    # An erased person's number, kept with the erasure ledger while backups could restore it.
    ErasureLedger.objects.create(
        created_at=now, erased_by="dpo", digests=[], records={}, expires_at=now,
        id_number_encrypted=pii.encrypt(nik(56)),
    )  # fmt: skip


@pytest.fixture
def encrypted_under_a(settings, register, outlet, clerk):
    """Every encrypted table filled, all under key A."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    fill_every_encrypted_table(register, outlet, clerk)
    values = every_value()
    # Every table rotation must cover has values (a new one must be added here too).
    assert {label for label, *_ in values} == set(ENCRYPTED_FIELDS)
    assert len(values) == VALUES
    return {
        "plain": {(label, pk, name): pii.decrypt(token) for label, pk, name, token in values},
        "digests": list(
            Registration.objects.order_by("pk").values_list("id_number_digest", "kk_number_digest")
        ),
        "updated_at": list(
            Registration.objects.order_by("pk").values_list("updated_at", flat=True)
        ),
    }


# registrations 2 x 2 (+ a head of family's NIK), staff (the clerk has no ID stored) 2,
# answer 2, version 2; an outlet's owner 2, an application's 2, a dealer admin 2; a ledger entry;
# a waiting SMS 1
VALUES = 2 * 2 + 1 + 2 + 2 + 2 + 2 + 2 + 2 + 1 + 1
ROWS = 2 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1


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
    assert job.counts["rotated"] == VALUES and job.counts["unreadable"] == 0
    # Its cursor names no table: a resumed job would start a pass of its own.
    assert job.cursor == {"model": None, "last": 0}

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
    assert latest.counts["rotated"] == 0 and latest.counts["already_current"] == VALUES


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
    # Each row read once, none twice: registrations, outlet staff (the clerk's too), operator,
    # clarification answer, registration version.
    total = sum(apps.get_model(label).objects.count() for label in ENCRYPTED_FIELDS)
    assert job.counts["rows"] == total == ROWS
    # ...and each value re-encrypted once: none found already current by a second read.
    assert (job.counts["rotated"], job.counts["already_current"]) == (VALUES, 0)
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


def test_staff_rows_are_covered(settings, encrypted_under_a):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    call_command("rotate_encryption_keys", stdout=StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    staff = OutletStaff.objects.exclude(id_number_encrypted="").get()
    assert pii.decrypt(staff.id_number_encrypted) == nik(50)


def test_every_table_is_re_encrypted_not_just_listed(settings, encrypted_under_a):
    """Killed mutant: the rotation loop skipped the clarification answers and the registration
    versions (the list was right, the loop was not). After rotating, the new key alone must
    read every value of every table."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    call_command("rotate_encryption_keys", stdout=StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]

    for label, pk, name, token in every_value():
        assert key_status(token) == "primary", (label, pk, name)
    answer = ClarificationAnswer.objects.get()
    assert pii.decrypt(answer.correction_id_number_encrypted) == nik(51)
    assert pii.decrypt(RegistrationVersion.objects.get().id_number_encrypted) == nik(52)
    call_command("rotate_encryption_keys", "--verify", stdout=StringIO())


def test_a_key_removed_too_early_is_reported_not_hidden(settings, encrypted_under_a, caplog):
    """Killed mutant: values no configured key decrypts were not counted, so a rotation after
    an old key was removed too early "succeeded". The operator must be told, and nothing
    written."""
    before = every_value()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # A removed before its rows were re-encrypted

    out = StringIO()
    with pytest.raises(CommandError, match=f"{VALUES} value\\(s\\) cannot be decrypted"):
        call_command("rotate_encryption_keys", stdout=out)

    # The log names each value the operator must look for: table, row and column.
    logged = [r.getMessage() for r in caplog.records if r.name == "privacy.services.rotation"]
    assert len(logged) == VALUES
    first = Registration.objects.order_by("pk").first().pk
    assert (
        f"subscribers.Registration {first}.id_number_encrypted: no configured key decrypts it"
        in (logged)
    )

    job = PrivacyJob.objects.get(kind=PrivacyJob.Kind.KEY_ROTATION)
    assert job.counts["unreadable"] == VALUES and job.counts["rotated"] == 0
    assert job.status == PrivacyJob.Status.FAILED and f"{VALUES} value(s)" in job.error
    assert every_value() == before  # nothing overwritten
    verify = StringIO()
    with pytest.raises(CommandError, match="keep the old keys"):
        call_command("rotate_encryption_keys", "--verify", stdout=verify)
    assert "2 unreadable" in verify.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # the old key put back: all readable again
    assert decrypt_all() == encrypted_under_a["plain"]


@pytest.mark.django_db(transaction=True)
def test_an_id_number_changed_during_rotation_is_not_overwritten(
    require_postgres, settings, register, outlet, clerk
):
    """Killed mutant: rotation without its row lock read a registration, another transaction
    corrected the registration's ID number and committed, and rotation then wrote the old
    number back (re-encrypted). With the lock, rotation waits and re-reads the new value."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    fill_every_encrypted_table(register, outlet, clerk)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    registration = Registration.objects.order_by("pk").first()
    corrected = pii.encrypt(nik(60))  # under B, the new primary key
    writer = second_connection()
    waited = threading.Event()

    def commit_once_rotation_waits():
        deadline = time.monotonic() + 15
        with writer.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                if cursor.fetchone()[0]:
                    waited.set()
                    break
                time.sleep(0.05)
        writer.commit()

    try:
        with writer.cursor() as cursor:
            cursor.execute(
                "UPDATE subscribers_registration SET id_number_encrypted = %s WHERE id = %s",
                [corrected, registration.pk],
            )
        committer = threading.Thread(target=commit_once_rotation_waits)
        committer.start()
        call_command("rotate_encryption_keys", stdout=StringIO())
        committer.join(timeout=20)
    finally:
        writer.close()

    assert waited.is_set(), "rotation never met the writer's row lock"
    registration.refresh_from_db()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert pii.decrypt(registration.id_number_encrypted) == nik(60)


def test_the_old_key_put_back_lets_the_failed_rotation_finish(settings, encrypted_under_a):
    """The rotation that failed because an old key was removed too early is resumed by the
    command once the key is back: it goes through the tables again and ends with every value
    under the new key (it used to fail again and again with the count of its first pass)."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(CommandError, match=f"{VALUES} value\\(s\\) cannot be decrypted"):
        call_command("rotate_encryption_keys", stdout=StringIO())

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # the old key put back
    out = StringIO()
    call_command("rotate_encryption_keys", stdout=out)

    job = PrivacyJob.objects.get(kind=PrivacyJob.Kind.KEY_ROTATION)
    assert f"resuming job #{job.pk}" in out.getvalue()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts["rotated"] == VALUES and job.counts["unreadable"] == 0
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert decrypt_all() == encrypted_under_a["plain"]
    call_command("rotate_encryption_keys", "--verify", stdout=StringIO())


def test_an_operator_admin_starts_the_rotation_from_the_privacy_page(
    client, operator, settings, encrypted_under_a, django_capture_on_commit_callbacks
):
    """The page queues the job in the admin's name and a worker runs it after the commit."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    client.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/privacy/jobs/", {"kind": "key_rotation"})

    assert response.status_code == 302
    job = PrivacyJob.objects.get()
    assert (job.kind, job.trigger, job.requested_by) == ("key_rotation", "page", operator)
    assert job.status == PrivacyJob.Status.SUCCEEDED and job.counts["rotated"] == VALUES
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert decrypt_all() == encrypted_under_a["plain"]


def test_a_rotation_runs_in_the_chunks_it_was_queued_with(settings, encrypted_under_a):
    """The chunk size is fixed when the job is queued (the page, the command): a worker
    configured otherwise still locks and reports that many rows at a time."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    settings.PRIVACY_CHUNK_SIZE = 1
    job = services.key_rotation_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)

    settings.PRIVACY_CHUNK_SIZE = 1000
    lines = []
    services.privacy_job_run(job_id=job.pk, progress=lines.append)

    assert len([line for line in lines if "values re-encrypted so far" in line]) == ROWS


def test_the_first_row_and_a_value_after_an_empty_column_are_rotated(settings, encrypted_under_a):
    """The first row a database holds (pk 1) and a staff member with a KK but no NIK on file:
    each value of each row is re-encrypted, whatever comes before it."""
    first = Registration.objects.order_by("pk").first()
    Registration.objects.filter(pk=first.pk).update(id=1)
    ledger = ErasureLedger.objects.get()
    ErasureLedger.objects.filter(pk=ledger.pk).update(id=1)
    StaffFactory(
        user=UserFactory(username="staff_kk_only"),
        outlet=OutletStaff.objects.exclude(id_number_encrypted="").get().outlet,
        kk_number_encrypted=pii.encrypt(KK),
    )
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    call_command("rotate_encryption_keys", stdout=StringIO())

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert pii.decrypt(Registration.objects.get(pk=1).id_number_encrypted) == nik(41)
    assert pii.decrypt(ErasureLedger.objects.get(pk=1).id_number_encrypted) == nik(56)
    staff = OutletStaff.objects.get(user__username="staff_kk_only")
    assert pii.decrypt(staff.kk_number_encrypted) == KK
    call_command("rotate_encryption_keys", "--verify", stdout=StringIO())


def test_a_rotation_interrupted_in_a_later_table_resumes_in_that_table(settings, encrypted_under_a):
    """Killed after the registrations and the first staff row: the resumed job goes on in the
    staff table, and never reads the registrations again."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    settings.PRIVACY_CHUNK_SIZE = 1
    seen = []

    def killed_in_the_staff_table(message):
        seen.append(message)
        if message.startswith("outlets.OutletStaff"):
            raise KeyboardInterrupt

    job = services.key_rotation_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)
    with pytest.raises(KeyboardInterrupt):
        services.privacy_job_run(job_id=job.pk, progress=killed_in_the_staff_table)
    job.refresh_from_db()
    assert job.cursor["model"] == "outlets.OutletStaff" and job.counts["rows"] == 3

    settings.PRIVACY_JOB_STALE_SECONDS = 0
    lines = []
    services.privacy_job_run(job_id=job.pk, progress=lines.append)

    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert not [line for line in lines if line.startswith("subscribers.Registration")]
    assert job.counts["rows"] == ROWS and job.counts["already_current"] == 0


def test_the_command_runs_the_rotation_itself_and_queues_no_task(
    settings, encrypted_under_a, monkeypatch, django_capture_on_commit_callbacks
):
    """The command is the worker: nothing is sent to the broker for a second one to pick up."""
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda task, *a, **kw: sent.append(task.name))
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    with django_capture_on_commit_callbacks(execute=True):
        call_command("rotate_encryption_keys", stdout=StringIO())

    assert sent == []
    assert PrivacyJob.objects.get().status == PrivacyJob.Status.SUCCEEDED


def test_a_chunk_of_rows_is_read_in_one_query(settings, encrypted_under_a):
    """Each chunk's rows come with their encrypted columns in the one locking read (and an
    empty read ends the table): never a query per row, which on millions of registrations
    would be the difference between minutes and days."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    job = services.key_rotation_start(trigger=PrivacyJob.Trigger.COMMAND, dispatch=False)

    with CaptureQueriesContext(connection) as queries:
        services.privacy_job_run(job_id=job.pk)

    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "subscribers_registration"' in q["sql"]
    ]
    assert len(reads) == 2, reads
