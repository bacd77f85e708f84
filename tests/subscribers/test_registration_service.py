"""registration_create: the one way in, judged by the policy in force."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation

from core.models import AuditEvent
from operatordb.models import OperatorSubscriber
from outlets.models import StarterPack
from subscribers import services
from subscribers.models import Registration
from tests.conftest import buyer_data, photo_upload

pytestmark = pytest.mark.django_db


def test_clerk_registers_a_buyer(clerk, pack, photos, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reg = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    assert len(callbacks) == 1  # the photo task is queued after the commit, not before

    reg.refresh_from_db()
    pack.refresh_from_db()
    assert reg.msisdn == pack.msisdn and reg.msisdn.startswith("628")
    assert reg.clerk == clerk and reg.outlet == pack.outlet
    assert pack.status == StarterPack.Status.REGISTERED
    assert pack.updated_at == reg.registered_at  # the stock says when it left
    assert reg.registration_number.startswith("SP")
    assert reg.id_number_masked == "3171********0042"
    assert "3171015708900042" not in reg.id_number_encrypted
    assert reg.policy.code == "2026-07"  # NIK + face, verified by the population registry
    assert reg.status == Registration.Status.REGISTERED
    # photos were processed by the (eager) task after commit
    assert reg.photo_status == Registration.PhotoStatus.READY
    assert reg.id_photo_thumb and reg.face_photo_thumb
    # The face was verified by the registry at the counter: its verdict, score and hash are the
    # evidence kept; the photo itself is purged after FACE_PHOTO_MAX_HOURS (docs/rules.md).
    assert (reg.face_verdict, reg.face_score, len(reg.face_sha256)) == ("match", 1.0, 64)
    assert reg.registry_checked_at is not None
    event = AuditEvent.objects.get(action="registration.create")
    assert event.actor == clerk and event.target_id == str(reg.pk)
    assert "3171015708900042" not in str(event.after)


def test_pack_of_another_outlet_is_refused(clerk, other_pack, photos):
    with pytest.raises(ValidationError) as exc:
        services.registration_create(clerk=clerk, data=buyer_data(other_pack), **photos)
    assert "msisdn" in exc.value.message_dict
    assert not Registration.objects.exists()
    assert not AuditEvent.objects.exists()


def test_all_faults_reported_at_their_fields(clerk, pack):
    data = buyer_data(pack, id_number="9971015708900042", consent=False, birth_date="17-08-1990")
    with pytest.raises(ValidationError) as exc:
        services.registration_create(clerk=clerk, data=data, id_photo=photo_upload())
    errors = exc.value.message_dict
    assert {"id_number", "consent", "birth_date", "face_photo"} <= set(errors)
    assert not Registration.objects.exists()


def _register_same_buyer(clerk, outlet, n):
    from tests.factories import StarterPackFactory

    regs = []
    for _ in range(n):
        pack = StarterPackFactory(outlet=outlet)
        regs.append(
            services.registration_create(
                clerk=clerk,
                data=buyer_data(pack),
                id_photo=photo_upload("ktp.jpg"),
                face_photo=photo_upload("face.jpg"),
            )
        )
    return regs


def test_beyond_the_cap_a_retail_outlet_is_refused(clerk, outlet):
    # Corrected rule: the 4th number on a NIK is never registered at an ordinary retail
    # outlet (it used to be accepted and flagged).
    regs = _register_same_buyer(clerk, outlet, 3)
    assert [r.status for r in regs] == [Registration.Status.REGISTERED] * 3
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        _register_same_buyer(clerk, outlet, 1)
    assert "authorised in writing" in exc.value.message_dict["id_number"][0]


def test_beyond_the_cap_an_authorised_outlet_registers_flagged_for_review(clerk, outlet):
    from datetime import date

    outlet.operator_authorised_from = date(2018, 5, 7)
    outlet.save()
    regs = _register_same_buyer(clerk, outlet, 4)
    assert [r.status for r in regs] == [Registration.Status.REGISTERED] * 3 + [
        Registration.Status.FLAGGED
    ]
    assert regs[3].review_reasons[0]["code"] == "over_cap_permitted"
    assert not any(note["code"] == "over_cap_permitted" for note in regs[3].warnings)


def test_the_receipt_says_in_words_that_a_number_beyond_the_cap_was_flagged(client, clerk, outlet):
    from datetime import date

    outlet.operator_authorised_from = date(2018, 5, 7)
    outlet.save()
    regs = _register_same_buyer(clerk, outlet, 4)
    client.force_login(clerk)

    with translation.override("en"):
        within = client.get(f"/registrations/{regs[2].pk}/receipt/", HTTP_ACCEPT_LANGUAGE="en")
        beyond = client.get(f"/registrations/{regs[3].pk}/receipt/", HTTP_ACCEPT_LANGUAGE="en")
    phrase = "it has been flagged for review by the operator"
    assert (
        phrase in beyond.content.decode() and 'id="receipt-beyond-cap"' in beyond.content.decode()
    )
    assert phrase not in within.content.decode()
    # the PDF tells the buyer too, in both languages
    pdf = client.get(f"/registrations/{regs[3].pk}/receipt.pdf")
    from tests.pdftext import pdf_text

    text = pdf_text(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content)
    assert "DITANDAI UNTUK DITINJAU" in text and "FLAGGED FOR REVIEW" in text


def test_deactivated_numbers_do_not_count_against_the_cap(clerk, outlet):
    # (3 registered, 1 deactivated: the 4th is the 3rd that counts)

    from privacy.models import RegistrationPrivacy

    first, *_ = _register_same_buyer(clerk, outlet, 3)
    RegistrationPrivacy.objects.create(registration=first, deactivated_at=timezone.now())
    (fourth,) = _register_same_buyer(clerk, outlet, 1)
    assert fourth.status == Registration.Status.REGISTERED


def test_cap_refuses_when_the_policy_does_not_let_outlets_exceed_it(clerk, outlet):
    from datetime import date

    from subscribers.selectors import policy_in_force

    outlet.kind = outlet.Kind.OPERATOR  # even the operator's own outlet, when nobody may
    outlet.operator_authorised_from = date(2018, 5, 7)
    outlet.save()
    policy = policy_in_force()
    # A published rule set is never edited by the portal: the test sets one up as if seeded so.
    type(policy).objects.filter(pk=policy.pk).update(cap_exceptions="nobody")
    _register_same_buyer(clerk, outlet, 3)
    with pytest.raises(ValidationError) as exc:
        _register_same_buyer(clerk, outlet, 1)
    assert "id_number" in exc.value.message_dict
    assert Registration.objects.count() == 3


def _audit_of(registration) -> dict:
    return AuditEvent.objects.get(action="registration.create", target_id=str(registration.pk))


def test_the_audit_row_says_what_was_registered_and_how_the_registry_answered(clerk, pack, photos):
    """The audit row a supervisor reads: the number, the outlet, the masked ID, the rule set,
    the status, the channel, the category, the registry's verdict — and no ID number."""
    registration = services.registration_create(
        clerk=clerk, data=buyer_data(pack), source=Registration.Source.API, **photos
    )

    event = _audit_of(registration)
    assert event.actor == clerk
    assert event.after == {
        "msisdn": pack.msisdn,
        "outlet": registration.outlet.roid,
        "id_type": "ktp",
        "id_number": "3171********0042",
        "policy": "2026-07",
        "status": "registered",
        "source": "api",
        "category": "personal",
        "registry": "checked",
        "face_verdict": "match",
        "warnings": [w["code"] for w in registration.warnings],
    }


def test_the_audit_row_of_a_registration_awaiting_the_registry(clerk, pack, photos, settings):
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"

    with translation.override("en"):
        registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)

    # What the clerk and the receipt say, and what the audit row keeps.
    assert registration.warnings == [
        {
            "code": "awaiting_verification",
            "message": "The population registry (Dukcapil) cannot be reached now. The "
            "registration is kept awaiting verification: the number is not activated until "
            "the registry confirms the buyer's data, and the receipt tells the buyer so.",
        }
    ]
    after = _audit_of(registration).after
    assert (after["status"], after["registry"], after["face_verdict"]) == (
        "awaiting",
        "awaiting",
        "",
    )
    assert after["source"] == "web"
    assert after["warnings"] == ["awaiting_verification"]


def test_two_registrations_never_share_a_registration_number(clerk, outlet, monkeypatch):
    """The receipt's number is drawn at random: when the draw repeats a number already given
    that day, the registration is written under a fresh draw (and audited once), not refused."""
    from tests.factories import StarterPackFactory

    draws = iter("AAAAAAAA" + "AAAAAAAA" + "BBBBBBBB")
    monkeypatch.setattr(services.secrets, "choice", lambda alphabet: next(draws))
    first_pack, second_pack = StarterPackFactory(outlet=outlet), StarterPackFactory(outlet=outlet)
    first = services.registration_create(
        clerk=clerk, data=buyer_data(first_pack), id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )  # fmt: skip
    second = services.registration_create(
        clerk=clerk, data=buyer_data(second_pack), id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )  # fmt: skip

    assert first.registration_number.endswith("AAAAAAAA")
    assert second.registration_number.endswith("BBBBBBBB")
    assert first.registration_number[:8] == second.registration_number[:8]  # SP + the day
    assert Registration.objects.count() == 2
    assert AuditEvent.objects.filter(action="registration.create").count() == 2


@pytest.mark.parametrize(
    ("exceptions", "kind", "message"),
    [
        (
            "operator",
            "retail",
            "This NIK already holds 3 numbers: more can only be registered at the operator's "
            "own outlets (GraPARI).",
        ),
        (
            "authorised",
            "retail",
            "This NIK already holds 3 numbers: more can only be registered at the operator's "
            "own outlets or at outlets the operator authorised in writing.",
        ),
        ("nobody", "operator", "This ID already holds 3 numbers, the most the rules allow."),
    ],
)
def test_the_clerk_reads_why_a_number_beyond_the_cap_is_refused(
    clerk, outlet, exceptions, kind, message
):
    from subscribers.selectors import policy_in_force

    outlet.kind = kind
    outlet.save()
    policy = policy_in_force()
    type(policy).objects.filter(pk=policy.pk).update(cap_exceptions=exceptions)
    _register_same_buyer(clerk, outlet, 3)

    with pytest.raises(ValidationError) as exc, translation.override("en"):
        _register_same_buyer(clerk, outlet, 1)

    assert exc.value.message_dict == {"id_number": [message]}


def test_a_number_beyond_the_cap_tells_the_reviewer_how_many_the_nik_holds(clerk, outlet):
    from datetime import date

    outlet.operator_authorised_from = date(2018, 5, 7)
    outlet.save()
    *_, fourth, fifth = _register_same_buyer(clerk, outlet, 5)

    assert fourth.review_reasons == [
        {
            "code": "over_cap_permitted",
            "message": "4 numbers on this NIK, cap 3",
            "held": 4,
            "cap": 3,
        }
    ]
    assert fifth.review_reasons[0]["held"] == 5
    assert AuditEvent.objects.filter(action="registration.create").count() == 5


def test_the_registration_number_carries_the_local_day_it_was_registered(clerk, pack):
    """SP + the day in Jakarta (yymmdd) + eight characters: a registration written at 01:30 on
    4 August in Jakarta (18:30 UTC the day before) carries 4 August, not today's date."""
    from datetime import UTC, datetime

    now = datetime(2026, 8, 3, 18, 30, tzinfo=UTC)

    registration = services.registration_create(
        clerk=clerk, data=buyer_data(pack), now=now, id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )  # fmt: skip

    assert registration.registration_number.startswith("SP260804")
    assert len(registration.registration_number) == 16
    assert registration.registered_at == now


def test_five_draws_of_numbers_already_given_refuse_to_guess_further(clerk, outlet, monkeypatch):
    """Five draws in a row that repeat a number already given: the registration is not written
    (32^8 numbers a day make this a broken random source, not bad luck)."""
    from tests.factories import StarterPackFactory

    draws = iter("A" * 8 * 6 + "B" * 8)
    monkeypatch.setattr(services.secrets, "choice", lambda alphabet: next(draws))
    services.registration_create(
        clerk=clerk, data=buyer_data(StarterPackFactory(outlet=outlet)),
        id_photo=photo_upload("ktp.jpg"), face_photo=photo_upload("face.jpg"),
    )  # fmt: skip

    with pytest.raises(RuntimeError, match=r"^could not allocate a registration number$"):
        services.registration_create(
            clerk=clerk, data=buyer_data(StarterPackFactory(outlet=outlet)),
            id_photo=photo_upload("ktp.jpg"), face_photo=photo_upload("face.jpg"),
        )  # fmt: skip
    assert Registration.objects.count() == 1


def test_a_pack_registered_but_back_in_stock_by_mistake_is_refused_at_its_number(
    clerk, pack, photos
):
    """A pack whose stock row says "in stock" although a registration holds it (a correction
    by hand gone wrong): registering it again is refused at the number, as a clerk would read
    it, and nothing more is written."""
    with translation.override("en"):
        services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
        StarterPack.objects.filter(pk=pack.pk).update(status=StarterPack.Status.IN_STOCK)

        with pytest.raises(ValidationError) as exc:
            services.registration_create(
                clerk=clerk, data=buyer_data(pack), id_photo=photo_upload("ktp.jpg"),
                face_photo=photo_upload("face.jpg"),
            )  # fmt: skip

    assert exc.value.message_dict == {"msisdn": ["This starter pack is already registered."]}
    assert Registration.objects.count() == 1
    assert AuditEvent.objects.filter(action="registration.create").count() == 1


def test_another_buyers_numbers_do_not_count_against_this_buyers_cap(clerk, outlet):
    """The cap is per NIK: three numbers of one buyer leave another buyer's first number
    registered (neither refused nor flagged)."""
    from identity.idgen import make_nik
    from tests.conftest import BUYER_BIRTH
    from tests.factories import StarterPackFactory

    _register_same_buyer(clerk, outlet, 3)
    pack = StarterPackFactory(outlet=outlet)
    other = buyer_data(pack, id_number=make_nik(birth_date=BUYER_BIRTH, sex="F", serial=43))

    registration = services.registration_create(
        clerk=clerk, data=other, id_photo=photo_upload("ktp.jpg"),
        face_photo=photo_upload("face.jpg"),
    )  # fmt: skip

    assert registration.status == Registration.Status.REGISTERED
    assert registration.review_reasons == []


def test_the_registration_keeps_what_the_clerk_entered_with_the_numbers_encrypted(
    clerk, pack, photos
):
    """Every value the clerk entered is stored as entered (the names and address for the
    receipt and the reviewer), the ID and KK numbers only encrypted, digested and masked, the
    ICCID taken from the pack when the clerk left it empty, the channel recorded."""
    from core import pii

    data = buyer_data(pack, iccid="")

    registration = services.registration_create(
        clerk=clerk, data=data, source=Registration.Source.API, **photos
    )

    registration = Registration.objects.get(pk=registration.pk)
    assert (registration.full_name, registration.birth_place, registration.address) == (
        "Siti Nur'aini",
        "Bandung",
        "Jl. Kenanga No. 5, RT 01/RW 02, Bandung",
    )
    assert (registration.nationality, registration.category) == ("ID", "personal")
    assert registration.iccid == pack.iccid and pack.iccid
    assert pii.decrypt(registration.id_number_encrypted) == data["id_number"]
    assert registration.id_number_digest == pii.digest(data["id_number"])
    assert pii.decrypt(registration.kk_number_encrypted) == data["kk_number"]
    assert registration.kk_number_digest == pii.digest(data["kk_number"])
    assert (
        registration.kk_number_masked == data["kk_number"][:4] + "********" + data["kk_number"][-4:]
    )
    assert registration.document_checked is True
    assert registration.source == "api"
    assert (registration.company_name, registration.guardian_id_number_encrypted) == ("", "")
    assert registration.guardian_id_number_masked == ""


def test_no_kk_and_no_iccid_leave_their_fields_empty(clerk, outlet, photos):
    """A buyer without a family card (optional from July 2026) on a pack whose ICCID the stock
    never had: nothing is stored in their place."""
    from tests.factories import StarterPackFactory

    pack = StarterPackFactory(outlet=outlet, iccid="")

    registration = services.registration_create(
        clerk=clerk, data=buyer_data(pack, iccid="", kk_number=""), **photos
    )

    registration = Registration.objects.get(pk=registration.pk)
    assert registration.iccid == ""
    assert (
        registration.kk_number_encrypted,
        registration.kk_number_digest,
        registration.kk_number_masked,
    ) == ("", "", "")


def test_a_registration_awaiting_the_registry_queues_its_verification(
    clerk, pack, photos, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The registry down: after the commit the photo task and the late verification of this
    registration are queued for a worker."""
    from celery.app.task import Task

    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    sent = []
    monkeypatch.setattr(
        Task, "apply_async", lambda task, args=None, **kw: sent.append((task.name, *(args or ())))
    )

    with django_capture_on_commit_callbacks(execute=True):
        registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)

    names = {(name.rsplit(".", 1)[-1], *args) for name, *args in sent}
    assert ("verify_registration", registration.pk) in names
    assert ("process_registration_photos", registration.pk) in names


def test_a_foreigners_registration_keeps_their_nationality(clerk, pack, photos):
    data = buyer_data(
        pack, id_type="passport", id_number="TR5287731", kk_number="", nationality="JP",
        full_name="Hiroshi Tanaka", in_registry=False,
    )  # fmt: skip

    registration = services.registration_create(clerk=clerk, data=data, **photos)

    assert (registration.nationality, registration.id_type) == ("JP", "passport")


def test_a_pack_moved_to_another_outlet_while_the_clerk_was_checked_is_not_claimed(
    clerk, pack, other_outlet, photos
):
    """The race between the checks and the write: the pack passed the checks at the clerk's
    outlet, then the dealer moved it to another outlet before the claim. The claim is a
    compare-and-set on the outlet too, so the clerk is refused at the number, the pack stays
    in stock at its new outlet and nothing is written. (``registration_create`` runs these two
    steps; the test runs them with the move in between.)"""
    prepared = services.registration_prepare(clerk=clerk, data=buyer_data(pack), **photos)
    StarterPack.objects.filter(pk=pack.pk).update(outlet=other_outlet)

    with (
        translation.override("en"),
        pytest.raises(ValidationError) as exc,
        transaction.atomic(),
    ):
        services._registration_write(
            prepared, clerk=clerk, data=buyer_data(pack), source=Registration.Source.WEB
        )

    assert exc.value.message_dict == {"msisdn": ["This starter pack is already registered."]}
    pack.refresh_from_db()
    assert (pack.outlet, pack.status) == (other_outlet, StarterPack.Status.IN_STOCK)
    assert not Registration.objects.exists()
    assert not AuditEvent.objects.filter(action="registration.create").exists()


def test_a_registered_sale_is_activated_at_the_operator_after_the_commit(
    clerk, pack, photos, settings, django_capture_on_commit_callbacks
):
    """With activation on, the sale reaches the operator's side once the registration is
    committed: the number is active there, for this outlet and this ID."""
    settings.OPERATOR_MOCK_ACTIVATION_SECONDS = 0
    with django_capture_on_commit_callbacks(execute=True):
        registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)

    record = OperatorSubscriber.objects.get(msisdn=registration.msisdn)
    assert record.status == "active"
    assert record.outlet_roid == registration.outlet.roid
    assert record.id_number_digest == registration.id_number_digest


def test_the_cap_judged_again_counts_only_the_numbers_registered_before(clerk, outlet):
    """``cap_count(before=…)`` — what a registration was judged against when its history is
    judged again (the rule-set preview): the NIK's numbers registered earlier, ties on the
    moment broken by the registration's id; never the later ones."""
    first, second, third = _register_same_buyer(clerk, outlet, 3)
    digest = first.id_number_digest
    assert services.cap_count(id_digest=digest) == 3
    assert services.cap_count(id_digest=digest, before=first) == 0
    assert services.cap_count(id_digest=digest, before=second) == 1
    assert services.cap_count(id_digest=digest, before=third) == 2

    # Two registered at the same moment: the one with the smaller id came first.
    Registration.objects.filter(pk=third.pk).update(registered_at=second.registered_at)
    second.refresh_from_db()
    third.refresh_from_db()
    assert services.cap_count(id_digest=digest, before=second) == 1
    assert services.cap_count(id_digest=digest, before=third) == 2

    # Moved a day earlier than the first, the third is judged against nothing.
    Registration.objects.filter(pk=third.pk).update(
        registered_at=first.registered_at - timedelta(days=1)
    )
    third.refresh_from_db()
    assert services.cap_count(id_digest=digest, before=third) == 0
    assert services.cap_count(id_digest=digest, before=first) == 1


# --- after the write: blocking a number, the sweeps' selections, the late verification ----------


def test_blocking_a_number_blocks_its_registration_and_pack_with_an_audit_row_each(
    clerk, pack, photos, grapari
):
    """What a supervisor reads afterwards: the registration and the pack blocked at the moment
    of the decision, one audit row each naming the reviewer, the status before and after and
    the reason (kept to 300 characters). Blocking again changes and records nothing more."""
    registration = services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)
    reviewer = grapari
    now = timezone.now() + timedelta(minutes=5)
    reason = "Fake KTP: " + "the photo does not match the holder. " * 12

    with transaction.atomic():
        blocked = services.registration_block(
            actor=reviewer, msisdn=registration.msisdn, registration_id=registration.pk,
            reason=reason, now=now,
        )  # fmt: skip

    assert blocked.pk == registration.pk
    registration.refresh_from_db()
    pack.refresh_from_db()
    assert (registration.status, registration.updated_at) == ("blocked", now)
    assert (pack.status, pack.updated_at) == ("blocked", now)
    on_registration = AuditEvent.objects.get(action="registration.block")
    assert (on_registration.actor, on_registration.target_type, on_registration.target_id) == (
        reviewer, "subscribers.registration", str(registration.pk),
    )  # fmt: skip
    assert on_registration.before == {"status": "registered"}
    assert on_registration.after == {"status": "blocked", "reason": reason[:300]}
    on_pack = AuditEvent.objects.get(action="starter_pack.block")
    assert (on_pack.actor, on_pack.target_type, on_pack.target_id) == (
        reviewer, "outlets.starterpack", str(pack.pk),
    )  # fmt: skip
    assert (on_pack.before, on_pack.after) == ({"status": "registered"}, {"status": "blocked"})

    with transaction.atomic():
        services.registration_block(
            actor=reviewer, msisdn=registration.msisdn, registration_id=registration.pk,
            reason="again", now=now + timedelta(minutes=1),
        )  # fmt: skip
    registration.refresh_from_db()
    pack.refresh_from_db()
    assert registration.updated_at == pack.updated_at == now
    assert AuditEvent.objects.filter(action__endswith=".block").count() == 2


def test_blocking_a_number_nobody_registered_blocks_its_pack(pack, grapari):
    with transaction.atomic():
        blocked = services.registration_block(
            actor=grapari, msisdn=pack.msisdn, registration_id=None, reason="Stolen stock",
            now=timezone.now(),
        )  # fmt: skip

    assert blocked is None
    pack.refresh_from_db()
    assert pack.status == StarterPack.Status.BLOCKED
    event = AuditEvent.objects.get()
    assert (event.action, event.before) == ("starter_pack.block", {"status": "in_stock"})


def _aged(registration, seconds: float, **fields):
    Registration.objects.filter(pk=registration.pk).update(
        created_at=timezone.now() - timedelta(seconds=seconds), **fields
    )


def test_photos_still_pending_after_two_minutes_are_handed_to_the_worker_again(clerk, outlet):
    """The sweep's selection: photos still pending after the grace period (two minutes by
    default) — neither the ones within it nor the ones already processed."""
    late, recent, done = _register_same_buyer(clerk, outlet, 3)
    with time_machine.travel(late.created_at, tick=False):
        _aged(late, 120.5, photo_status=Registration.PhotoStatus.PENDING)
        _aged(recent, 119.5, photo_status=Registration.PhotoStatus.PENDING)
        _aged(done, 600, photo_status=Registration.PhotoStatus.READY)

        assert services.registration_photos_pending() == [late.pk]
        assert sorted(services.registration_photos_pending(older_than_seconds=100)) == sorted(
            [late.pk, recent.pk]
        )


def test_registrations_awaiting_the_registry_after_a_minute_are_asked_again_oldest_first(
    clerk, outlet
):
    older, old, other = _register_same_buyer(clerk, outlet, 3)
    with time_machine.travel(older.created_at, tick=False):
        _aged(older, 300, status=Registration.Status.AWAITING)
        _aged(old, 60.5, status=Registration.Status.AWAITING)
        _aged(other, 600)  # verified long ago

        assert services.registrations_awaiting() == [older.pk, old.pk]
        assert services.registrations_awaiting(limit=1) == [older.pk]

        _aged(other, 59.5, status=Registration.Status.AWAITING)  # within its first minute
        assert services.registrations_awaiting() == [older.pk, old.pk]
        assert services.registrations_awaiting(older_than_seconds=30) == [
            older.pk, old.pk, other.pk,
        ]  # fmt: skip


def test_verifying_a_registration_that_is_gone_says_so(db):
    assert services.registration_verify(registration_id=987654321) == "missing"
