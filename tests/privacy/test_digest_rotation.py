"""``rotate_digest_key``: every digest column re-digested under the new key, resumable, and every
digest comparison working at each moment of the rotation — halfway through (one person's number
moved, another's not yet) and after it."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import models

from compliance.models import Discrepancy
from core import pii
from core.audit import AuditAction
from core.models import AuditEvent, DigestKeyMap, DigestKeyState
from core.registry import get_registry
from operatordb.models import OperatorSubscriber, PopulationRecord
from operatordb.snapshot import load_rows
from outlets.selectors.insiders import insider_match
from privacy import services
from privacy.digest_fields import CHUNK_SCOPE, MAPPED_LISTS, NOT_ID_DIGESTS, all_digest_columns
from privacy.models import DataSubjectRequest, ErasureLedger, PrivacyJob
from subscribers.models import Registration
from subscribers.services import active_id_count
from tests.factories import StaffFactory, UserFactory

from .conftest import nik

# The rotation rewrites digests with PostgreSQL's statements (refused on other databases).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("require_postgres")]
NEW_KEY = "rotated-digest-key-0123456789abcdefXYZ"
STAFF_NIK = nik(50)


class Killed(BaseException):
    """The process dies (``kill -9``): nothing after the last commit happens."""


@pytest.fixture
def seeded(register, outlet, operator):
    """Two people registered under the old key (two numbers each for the first), a staff member
    with their own NIK, the operator's records loaded from a snapshot, a subject request."""
    first = [register(41), register(41)]
    second = register(42)
    StaffFactory(
        user=UserFactory(username="staff_with_id"),
        outlet=outlet,
        id_number_encrypted=pii.encrypt(STAFF_NIK),
        id_number_digest=pii.digest(STAFF_NIK),
    )
    load_rows(snapshot_rows([*first, second]))
    # A number the first person had, out of service: not indexed, moved by the final sweep.
    OperatorSubscriber.objects.create(
        msisdn="6281999999999", status="inactive", id_number_digest=pii.digest(nik(41))
    )
    services.data_subject_request_open(actor=operator, id_number=nik(42), channel="grapari")
    return {"first": first, "second": second}


def snapshot_rows(registrations):
    def values(r):
        number = pii.decrypt(r.id_number_encrypted)
        activated = r.registered_at.isoformat()
        return [r.msisdn, r.iccid, "active", activated, r.outlet.roid, r.id_type, number,
                r.full_name, str(r.birth_date), "", ""]  # fmt: skip

    return [(line, values(r)) for line, r in enumerate(registrations, start=2)]


def start_rotation(settings):
    old = settings.ID_DIGEST_KEY
    settings.ID_DIGEST_KEY, settings.ID_DIGEST_KEY_PREVIOUS = NEW_KEY, old
    return old


def halfway(settings) -> PrivacyJob:
    """Rotate one registration (chunk of one), then the process dies."""
    start_rotation(settings)
    job = services.digest_rotation_start(trigger="command", dispatch=False)
    job.parameters = {"chunk_size": 1}
    job.save(update_fields=["parameters"])

    def killed(message):
        raise Killed

    with pytest.raises(Killed):
        services.privacy_job_run(job_id=job.pk, progress=killed)
    return job


def under(key: str, number: str) -> str:
    return pii._hmac(key, number)


# --- halfway: each comparison, for a number moved and one not yet moved -----------------------


def test_halfway_one_number_is_moved_everywhere_and_the_other_nowhere(settings, seeded):
    old = settings.ID_DIGEST_KEY
    halfway(settings)
    moved, waiting = nik(41), nik(42)
    assert DigestKeyState.objects.get().previous_fingerprint == pii.key_fingerprint(old)
    assert set(Registration.objects.values_list("id_number_digest", flat=True)) == {
        under(NEW_KEY, moved),
        under(old, waiting),
    }
    # The operator's copy of the moved number moved in the same transaction; the other not.
    active = OperatorSubscriber.objects.filter(status="active")
    operator_digests = set(active.values_list("id_number_digest", flat=True))
    assert operator_digests == {under(NEW_KEY, moved), under(old, waiting)}
    assert PopulationRecord.objects.filter(nik_digest=under(NEW_KEY, moved)).exists()
    assert PopulationRecord.objects.filter(nik_digest=under(old, waiting)).exists()


def test_halfway_the_per_id_cap_counts_both_people(settings, seeded):
    halfway(settings)
    assert active_id_count(id_digest=pii.digest(nik(41))) == 2
    assert active_id_count(id_digest=pii.digest(nik(42))) == 1


def test_halfway_the_own_id_rule_still_matches(settings, seeded, outlet):
    halfway(settings)  # the staff member's number is not reached yet
    assert insider_match(dealer_id=outlet.dealer_id, id_digest=pii.digest(STAFF_NIK)) == "id"
    call_command("rotate_digest_key", take_over=True, stdout=StringIO())
    assert insider_match(dealer_id=outlet.dealer_id, id_digest=pii.digest(STAFF_NIK)) == "id"


def test_halfway_the_registry_finds_both_people(settings, seeded):
    halfway(settings)
    found = get_registry().lookup([nik(41), nik(42)], timeout=5)
    assert set(found) == {nik(41), nik(42)}


def test_halfway_a_subject_request_finds_both_people(settings, seeded, operator):
    halfway(settings)
    for number, count in ((nik(41), 2), (nik(42), 1)):
        request = services.data_subject_request_open(
            actor=operator, id_number=number, channel="grapari"
        )
        assert request.found["registrations"] == count


def test_halfway_reconciliation_sees_no_id_mismatch(settings, seeded):
    from tests.compliance.conftest import run_inline

    halfway(settings)
    run_inline("full")
    kinds = set(Discrepancy.objects.values_list("msisdn", "kind"))
    assert not [k for k in kinds if k[1] == "id_number_mismatch"], kinds


def test_halfway_reloading_the_snapshot_changes_nothing(settings, seeded):
    """The loader compares each record with the stored one: the stored digest of a moved
    number is the new key's, of the other the old key's — the same snapshot is no change."""
    halfway(settings)
    registrations = [*seeded["first"], seeded["second"]]
    before = dict(OperatorSubscriber.objects.values_list("msisdn", "id_number_digest"))
    report = load_rows(snapshot_rows(registrations))
    assert report.updated == 0 and report.inserted == 0
    assert dict(OperatorSubscriber.objects.values_list("msisdn", "id_number_digest")) == before


def test_halfway_a_new_registration_is_written_as_its_number_is_stored(settings, seeded, register):
    """A number not moved yet is written with the old digest (the rotation moves it with the
    others); a moved one with the new."""
    old = settings.ID_DIGEST_KEY
    halfway(settings)
    again = register(42)
    assert again.id_number_digest == under(old, nik(42))
    call_command("rotate_digest_key", take_over=True, stdout=StringIO())
    again.refresh_from_db()
    assert again.id_number_digest == under(NEW_KEY, nik(42))


def test_keys_deployed_before_the_job_keep_writing_the_old_digest(settings, register):
    """Between deploying the pair of keys and starting the job nothing has moved: new rows
    must be written as the stored ones are."""
    old = settings.ID_DIGEST_KEY
    start_rotation(settings)
    assert pii.rotation_state() == "prepared"
    assert register(57).id_number_digest == under(old, nik(57))
    assert active_id_count(id_digest=pii.digest(nik(57))) == 1


# --- the whole rotation -----------------------------------------------------------------------


def test_killed_rotation_resumes_and_every_digest_ends_under_the_new_key(settings, seeded):
    old = settings.ID_DIGEST_KEY
    job = halfway(settings)
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.RUNNING  # the process died: no one marked it
    with pytest.raises(CommandError, match="--take-over"):
        call_command("rotate_digest_key", stdout=StringIO())
    out = StringIO()
    call_command("rotate_digest_key", take_over=True, reason="worker killed", stdout=out)
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED, job.error
    taken = AuditEvent.objects.get(action=AuditAction.JOB_TAKE_OVER, target_id=str(job.pk))
    assert taken.after["reason"] == "worker killed"
    state = DigestKeyState.objects.get()
    assert (state.fingerprint, state.previous_fingerprint) == (pii.key_fingerprint(NEW_KEY), "")
    assert not DigestKeyMap.objects.exists()  # the pairs link two keys' digests: gone
    for label, column in all_digest_columns():
        for value in apps.get_model(label).objects.values_list(column, flat=True):
            assert not value or value not in {under(old, n) for n in (nik(41), nik(42))}, (
                label,
                column,
            )
    for registration in Registration.objects.all():  # columns moved row by row or swept
        kk = pii.decrypt(registration.kk_number_encrypted)
        assert registration.kk_number_digest == under(NEW_KEY, kk)
    assert OperatorSubscriber.objects.get(msisdn="6281999999999").id_number_digest == under(
        NEW_KEY, nik(41)
    )
    request = DataSubjectRequest.objects.get()
    assert under(NEW_KEY, nik(42)) in request.id_number_digests
    assert request.id_number_digest == under(NEW_KEY, nik(42))
    call_command("rotate_digest_key", verify=True, stdout=StringIO())


def test_after_the_rotation_the_previous_key_is_not_needed(settings, seeded, operator, outlet):
    start_rotation(settings)
    call_command("rotate_digest_key", stdout=StringIO())
    settings.ID_DIGEST_KEY_PREVIOUS = ""
    assert pii.digest_key_check() == "ok"
    assert active_id_count(id_digest=pii.digest(nik(41))) == 2
    assert insider_match(dealer_id=outlet.dealer_id, id_digest=pii.digest(STAFF_NIK)) == "id"
    assert set(get_registry().lookup([nik(41), nik(42)], timeout=5)) == {nik(41), nik(42)}
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(41), channel="grapari"
    )
    assert request.found["registrations"] == 2
    report = load_rows(snapshot_rows([*seeded["first"], seeded["second"]]))
    assert report.updated == 0


def test_the_erasure_ledger_is_re_digested_from_its_encrypted_number(settings, register, operator):
    registration = register(43)
    Registration.objects.filter(pk=registration.pk).update(status=Registration.Status.BLOCKED)
    request = services.data_subject_request_open(
        actor=operator, id_number=nik(43), channel="grapari"
    )
    services.data_subject_request_erase(actor=operator, request=request)
    entry = ErasureLedger.objects.get()
    assert entry.id_number_encrypted and pii.decrypt(entry.id_number_encrypted) == nik(43)
    start_rotation(settings)
    call_command("rotate_digest_key", stdout=StringIO())
    entry.refresh_from_db()
    assert under(NEW_KEY, nik(43)) in entry.digests
    settings.ID_DIGEST_KEY_PREVIOUS = ""
    assert set(pii.digests(nik(43))) & set(entry.digests)


def test_without_the_previous_key_the_rotation_refuses(settings, seeded):
    settings.ID_DIGEST_KEY = NEW_KEY
    with pytest.raises(CommandError, match="ID_DIGEST_KEY_PREVIOUS"):
        call_command("rotate_digest_key", stdout=StringIO())


def test_a_rotation_with_a_wrong_previous_key_is_refused(settings, seeded):
    settings.ID_DIGEST_KEY, settings.ID_DIGEST_KEY_PREVIOUS = NEW_KEY, "not-the-old-key-xxxxxxx"
    with pytest.raises(CommandError, match="fingerprint"):
        call_command("rotate_digest_key", stdout=StringIO())
    assert Registration.objects.filter(id_number_digest=pii._hmac(NEW_KEY, nik(41))).count() == 0


def test_a_second_run_writes_nothing(settings, seeded):
    start_rotation(settings)
    call_command("rotate_digest_key", stdout=StringIO())
    before = list(Registration.objects.order_by("pk").values_list("id_number_digest", "updated_at"))
    out = StringIO()
    call_command("rotate_digest_key", stdout=out)
    assert "already" in out.getvalue()
    assert before == list(
        Registration.objects.order_by("pk").values_list("id_number_digest", "updated_at")
    )


def test_verify_reports_a_digest_left_under_the_old_key(settings, seeded):
    start_rotation(settings)
    call_command("rotate_digest_key", stdout=StringIO())
    straggler = seeded["second"]
    Registration.objects.filter(pk=straggler.pk).update(
        id_number_digest=under(settings.ID_DIGEST_KEY_PREVIOUS, nik(42))
    )
    with pytest.raises(CommandError, match="keep ID_DIGEST_KEY_PREVIOUS"):
        call_command("rotate_digest_key", verify=True, stdout=StringIO())


def test_every_digest_column_is_listed():
    """A new digest field of an ID number must be added to privacy/digest_fields.py."""
    listed = set(all_digest_columns()) | {
        (label, c) for label, cols in MAPPED_LISTS.items() for c in cols
    }
    found = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not isinstance(field, models.Field) or "digest" not in field.name:
                continue
            key = (model._meta.label, field.name)
            if key not in NOT_ID_DIGESTS:
                found.add(key)
    assert found == listed
    # A column scoped for the chunks' moves is a listed one (else the scope silently lapses).
    assert set(CHUNK_SCOPE) <= set(all_digest_columns())


def test_a_number_no_key_decrypts_fails_the_rotation_with_the_count_and_it_resumes(
    settings, seeded, outlet
):
    """Honest end: a ciphertext under a key that was removed too early cannot be re-digested.
    The job ends failed with the count and the rotation stays under way (every look-up still
    works); with the key back, running the command again finishes it."""
    from cryptography.fernet import Fernet

    from outlets.models import OutletStaff

    lost_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [lost_key, *settings.FIELD_ENCRYPTION_KEYS]
    staff = StaffFactory(
        user=UserFactory(username="staff_lost_key"),
        outlet=outlet,
        id_number_encrypted=pii.encrypt(nik(58)),
        id_number_digest=pii.digest(nik(58)),
    )
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[1:]
    start_rotation(settings)
    with pytest.raises(CommandError, match="1 number\\(s\\) cannot be decrypted"):
        call_command("rotate_digest_key", stdout=StringIO())
    job = PrivacyJob.objects.get(kind=PrivacyJob.Kind.DIGEST_ROTATION)
    assert job.status == PrivacyJob.Status.FAILED
    assert job.counts["last_unreadable"] == 1
    assert DigestKeyState.objects.get().previous_fingerprint  # still under way
    assert insider_match(dealer_id=outlet.dealer_id, id_digest=pii.digest(nik(58))) == "id"
    settings.FIELD_ENCRYPTION_KEYS = [*settings.FIELD_ENCRYPTION_KEYS, lost_key]
    call_command("rotate_digest_key", stdout=StringIO())
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    staff = OutletStaff.objects.get(pk=staff.pk)
    assert staff.id_number_digest == under(NEW_KEY, nik(58))
    assert not DigestKeyState.objects.get().previous_fingerprint


def test_a_rotation_killed_in_its_sweep_resumes_there(settings, seeded):
    start_rotation(settings)
    job = services.digest_rotation_start(trigger="command", dispatch=False)

    def killed_in_sweep(message):
        if message.startswith("swept"):
            raise Killed

    with pytest.raises(Killed):
        services.privacy_job_run(job_id=job.pk, progress=killed_in_sweep)
    job.refresh_from_db()
    assert job.cursor == {"phase": "sweep", "column": 1}
    rows_before = job.counts["rows"]
    call_command("rotate_digest_key", take_over=True, stdout=StringIO())
    job.refresh_from_db()
    assert job.status == PrivacyJob.Status.SUCCEEDED
    assert job.counts["rows"] == rows_before  # no table walked twice
    assert OperatorSubscriber.objects.get(msisdn="6281999999999").id_number_digest == under(
        NEW_KEY, nik(41)
    )
    call_command("rotate_digest_key", verify=True, stdout=StringIO())
