"""The rule sets as the regulations wrote them (docs/rules.md), each across its boundary dates:
the NIK era for citizens, KK and face, the cap's exceptions and categories, the end-user-only
rule, the 2018-11 statement, minors in 2026, and the re-seeding that changes no verdict."""

from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from core import pii
from identity.idgen import make_kk, make_nik
from outlets.models import Outlet, OutletStaff
from subscribers import services
from subscribers.models import Registration, RegistrationPolicy
from subscribers.selectors import policy_in_force
from tests.conftest import buyer_data, photo_upload, register_person
from tests.factories import (
    DealerAdminFactory,
    OutletFactory,
    StaffFactory,
    StarterPackFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# (code, in force from), oldest first.
RULE_SETS = [
    ("2014", date(2014, 5, 1)),
    ("2015", date(2015, 12, 15)),
    ("2017", date(2017, 10, 31)),
    ("2018", date(2018, 3, 1)),
    ("2018-05", date(2018, 5, 7)),
    ("2018-05-14", date(2018, 5, 14)),
    ("2018-11", date(2018, 11, 21)),
    ("2026", date(2026, 1, 19)),
    ("2026-07", date(2026, 7, 1)),
]
NIK_ERA = [start for code, start in RULE_SETS if start >= date(2017, 10, 31)]
BEFORE_NIK_ERA = [date(2015, 12, 14), date(2017, 10, 30)]
FACE_ERA = [date(2026, 1, 19), date(2026, 7, 1)]


def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def prepare(clerk, data, day, **photos):
    return services.registration_prepare(clerk=clerk, data=data, now=at(day), **photos)


def photos_for(day: date) -> dict:
    """The photos the rules of ``day`` ask of a citizen: the ID photo from 2018-11, the face
    (verified by the registry) from 2026."""
    wanted = {}
    if day >= date(2018, 11, 21):
        wanted["id_photo"] = photo_upload("ktp.jpg")
    if day >= date(2026, 1, 19):
        wanted["face_photo"] = photo_upload("face.jpg")
    return wanted


def valid(pack, day, **overrides):
    data = buyer_data(pack, **overrides)
    if day >= date(2018, 11, 21) and day < date(2026, 1, 19):
        data["statement_signed"] = True
    return data


def fields_of(exc) -> set[str]:
    return set(exc.value.message_dict)


# --- which rule set, when ------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "start"), RULE_SETS[1:])
def test_each_rule_set_starts_on_its_day_and_not_before(policies, code, start):
    previous = RULE_SETS[[c for c, _ in RULE_SETS].index(code) - 1][0]
    assert policy_in_force(at=start).code == code
    assert policy_in_force(at=start - timedelta(days=1)).code == previous


def test_the_rule_sets_fields(policies):
    def row(code):
        p = policy_in_force(at=dict(RULE_SETS)[code])
        return (p.citizen_proof, p.registry_check, p.max_numbers_per_id, p.cap_exceptions,
                p.declared_purpose_above, p.staff_own_id_forbidden)  # fmt: skip

    assert row("2015") == ("document", False, None, "nobody", None, False)
    assert row("2017") == ("nik_kk", True, 3, "operator", None, False)
    assert row("2018") == ("nik_kk", True, 3, "operator", None, False)
    assert row("2018-05") == ("nik_kk", True, 3, "authorised", 10, False)
    assert row("2018-05-14") == ("nik_kk", True, 3, "authorised", 10, True)
    assert row("2018-11") == ("nik_kk", True, 3, "authorised", 10, True)
    assert row("2026") == ("nik_kk_or_face", True, 3, "authorised", 10, True)
    assert row("2026-07") == ("nik_face", True, 3, "authorised", 10, True)
    november = policy_in_force(at=date(2018, 11, 21))
    assert november.signed_statement_required and november.original_documents_required
    assert november.mass_registration_forbidden and november.citizen_id_types == ["ktp"]
    assert policy_in_force(at=date(2026, 1, 19)).minor_age_limit == 17
    for _code, start in RULE_SETS[2:]:
        policy = policy_in_force(at=start)
        assert policy.legal_basis and policy.foreigner_id_types == ["passport", "kitas", "kitap"]


# --- citizens register with their NIK from 31 Oct 2017 ----------------------------------------


@pytest.mark.parametrize("day", BEFORE_NIK_ERA)
def test_before_the_nik_era_a_citizen_may_use_a_passport_or_an_old_sim(clerk, pack, day):
    for id_type, number in (("passport", "A1234567"), ("sim", "123456789012")):
        prepared = prepare(clerk, valid(pack, day, id_type=id_type, id_number=number,
                                        kk_number=""), day)  # fmt: skip
        assert prepared.clean.id_type == id_type and not prepared.registry.checked


@pytest.mark.parametrize("day", NIK_ERA)
def test_from_the_nik_era_a_citizen_with_a_passport_is_refused(clerk, pack, day):
    data = valid(pack, day, id_type="passport", id_number="A1234567")
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, day, **photos_for(day))
    assert "id_type" in fields_of(exc)
    assert "NIK" in exc.value.message_dict["id_type"][0]


@pytest.mark.parametrize("day", NIK_ERA)
def test_from_the_nik_era_a_citizen_with_an_old_sim_is_refused(clerk, pack, day):
    data = valid(pack, day, id_type="sim", id_number="123456789012")
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, day, **photos_for(day))
    if date(2018, 11, 21) <= day < FACE_ERA[0]:
        assert "id_type" in fields_of(exc)  # the original e-KTP only, then
    else:
        assert "NIK" in exc.value.message_dict["id_number"][0]


@pytest.mark.parametrize("day", NIK_ERA)
def test_a_foreigner_registers_with_a_passport_or_kitas_outside_the_registry(clerk, pack, day):
    for id_type, number in (("passport", "TR5287731"), ("kitas", "2C21AB0043917")):
        data = valid(pack, day, id_type=id_type, id_number=number, kk_number="",
                     nationality="JP", full_name="Hiroshi Tanaka")  # fmt: skip
        prepared = prepare(clerk, data, day, **({"id_photo": photo_upload()}
                                                 if day >= date(2018, 11, 21) else {}))  # fmt: skip
        assert not prepared.registry.checked and not prepared.awaiting


def test_a_kitas_is_for_foreigners_only_and_not_before_2017(clerk, pack):
    data = valid(pack, date(2016, 1, 4), id_type="kitas", id_number="2C21AB0043917",
                 kk_number="", nationality="JP")  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, date(2016, 1, 4))
    assert "id_type" in fields_of(exc)  # 2015: a foreigner shows a passport


# --- the KK, the face ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "kk_needed"),
    [(date(2017, 10, 30), False), (date(2017, 10, 31), True), (date(2026, 1, 18), True)],
)
def test_the_kk_is_required_in_the_nik_kk_era(clerk, pack, day, kk_needed):
    data = valid(pack, day, kk_number="")
    if not kk_needed:
        prepare(clerk, data, day)
        return
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, day, **photos_for(day))
    assert "kk_number" in fields_of(exc)


def test_2026_hybrid_kk_or_face(clerk, pack):
    day = date(2026, 3, 2)
    # NIK + KK, no face: the KK path.
    by_kk = prepare(clerk, valid(pack, day), day, id_photo=photo_upload())
    assert by_kk.registry.checked and by_kk.registry.face is None
    # NIK + face, no KK: the registry verifies the face.
    by_face = prepare(clerk, valid(pack, day, kk_number=""), day, **photos_for(day))
    assert by_face.registry.face.matched and len(by_face.registry.face_sha256) == 64
    # Neither: refused, saying both ways.
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, valid(pack, day, kk_number=""), day, id_photo=photo_upload())
    assert "face" in exc.value.message_dict["kk_number"][0]


def test_from_july_2026_a_new_subscriber_needs_the_face_even_with_a_kk(clerk, pack):
    day = date(2026, 7, 1)
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, valid(pack, day), day, id_photo=photo_upload())
    assert "face_photo" in fields_of(exc)
    assert prepare(clerk, valid(pack, day), day, **photos_for(day)).registry.face.matched
    # The day before, the hybrid: NIK + KK without a face is enough.
    prepare(clerk, valid(pack, day), day - timedelta(days=1), id_photo=photo_upload())


def test_2018_11_statement_signed_is_required(clerk, pack):
    day = date(2018, 11, 21)
    data = buyer_data(pack)
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, day, id_photo=photo_upload())
    assert "statement_signed" in fields_of(exc)
    prepare(clerk, data, day - timedelta(days=1))  # the day before: no statement asked
    signed = services.registration_create(
        clerk=clerk, data={**data, "statement_signed": True}, now=at(day), id_photo=photo_upload()
    )
    assert signed.statement_signed is True


# --- the cap's exceptions and the categories ---------------------------------------------------


def _hold(clerk, outlet, day, n, **overrides):
    """``n`` registrations of the default buyer at ``outlet`` on ``day``."""
    regs = []
    for _ in range(n):
        pack = StarterPackFactory(outlet=outlet)
        regs.append(
            services.registration_create(
                clerk=clerk, data=valid(pack, day, **overrides), now=at(day), **photos_for(day)
            )
        )
    return regs


def _clerk_at(outlet, name):
    return StaffFactory(user=UserFactory(username=name), outlet=outlet).user


@pytest.mark.parametrize(
    ("day", "kind", "authorised", "allowed"),
    [
        (date(2017, 11, 1), "retail", False, False),
        (date(2017, 11, 1), "operator", False, True),
        (date(2018, 5, 6), "retail", True, False),  # authorised, but 2017's rule: own only
        (date(2018, 5, 7), "retail", True, True),
        (date(2018, 5, 7), "retail", False, False),
        (date(2026, 7, 1), "retail", True, True),
        (date(2026, 7, 1), "operator", False, True),
        (date(2026, 7, 1), "retail", False, False),
    ],
)
def test_the_fourth_number_only_where_the_rule_set_allows(
    clerk, outlet, day, kind, authorised, allowed
):
    outlet.kind = kind
    outlet.operator_authorised_from = date(2018, 5, 1) if authorised else None
    outlet.save()
    _hold(clerk, outlet, day, 3)
    if allowed:
        (fourth,) = _hold(clerk, outlet, day, 1)
        # Lawful here, and flagged for a reviewer's look (the receipt says so).
        assert fourth.status == Registration.Status.FLAGGED
        assert fourth.review_reasons[-1]["code"] == "over_cap_permitted"
    else:
        with pytest.raises(ValidationError) as exc:
            _hold(clerk, outlet, day, 1)
        assert "id_number" in fields_of(exc)


def test_an_authorisation_dated_after_the_registration_does_not_count(clerk, outlet):
    # The outlet's written authorisation is judged on the registration's day, not today.
    day = date(2026, 7, 1)
    outlet.operator_authorised_from = day + timedelta(days=1)
    outlet.save()
    _hold(clerk, outlet, day, 3)
    with pytest.raises(ValidationError) as exc:
        _hold(clerk, outlet, day, 1)
    assert exc.value.message_dict == {
        "id_number": [
            "This NIK already holds 3 numbers: more can only be registered at the operator's "
            "own outlets or at outlets the operator authorised in writing."
        ]
    }


def test_above_ten_numbers_a_declared_purpose(clerk, outlet):
    day = date(2018, 6, 1)
    outlet.kind = Outlet.Kind.OPERATOR
    outlet.save()
    _hold(clerk, outlet, day, 10)
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        _hold(clerk, outlet, day, 1)
    assert exc.value.message_dict == {
        "declared_purpose": [
            "This NIK would hold more than 10 numbers: enter the purpose of these numbers "
            "(it is reported to the regulator)."
        ]
    }
    (eleventh,) = _hold(clerk, outlet, day, 1, declared_purpose="Armada ojek daring, 11 unit")
    assert eleventh.declared_purpose.startswith("Armada")
    # Before 7 May 2018 no purpose was asked (the operator's own outlet, any number).
    (old,) = _hold(clerk, outlet, date(2018, 5, 1), 1)
    assert not old.declared_purpose
    # (beyond the cap, where allowed: registered and flagged for a reviewer's look)
    assert old.status == Registration.Status.FLAGGED
    assert [r["code"] for r in old.review_reasons] == ["over_cap_permitted"]


@pytest.mark.parametrize("category", ["corporate", "m2m"])
def test_corporate_and_m2m_numbers_do_not_count_against_the_cap(clerk, outlet, category):
    day = date(2026, 8, 3)
    _hold(clerk, outlet, day, 3)
    company = _hold(clerk, outlet, day, 2, category=category, company_name="PT Armada Logistik")
    assert all(r.category == category for r in company)
    assert {r.company_name for r in company} == {"PT Armada Logistik"}
    assert services.active_id_count(id_digest=company[0].id_number_digest) == 3
    pack = StarterPackFactory(outlet=outlet)
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, valid(pack, day, category=category), day, **photos_for(day))
    assert "company_name" in fields_of(exc)


# --- end user only: the dealer's people ----------------------------------------------------------

INSIDER_NIK = make_nik(birth_date=date(1993, 2, 14), sex="M", province="32", serial=4411)
INSIDER_KK = make_kk(recorded=date(2017, 4, 4), region="327101", serial=88)


def _insider_buyer(pack, **overrides):
    return valid(pack, date(2026, 8, 3), id_number=INSIDER_NIK, birth_date="1993-02-14",
                 sex="M", full_name="Rudi Hartono", kk_number=INSIDER_KK, **overrides)  # fmt: skip


@pytest.mark.parametrize("who", ["colleague", "former_staff_elsewhere", "admin", "owner"])
def test_a_nik_of_the_dealers_people_is_refused(clerk, outlet, other_outlet, dealer_org, who):
    from core import pii

    digest = pii.digest(INSIDER_NIK)
    if who == "colleague":
        StaffFactory(outlet=outlet, id_number_digest=digest)
    elif who == "former_staff_elsewhere":
        StaffFactory(outlet=other_outlet, id_number_digest=digest, is_active=False,
                     removed_at=timezone.now())  # fmt: skip
    elif who == "admin":
        DealerAdminFactory(dealer=dealer_org, id_number_digest=digest)
    else:
        other_outlet.owner_id_number_digest = digest
        other_outlet.save()
    pack = StarterPackFactory(outlet=outlet)
    day = date(2026, 8, 3)
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        prepare(clerk, _insider_buyer(pack), day, **photos_for(day))
    assert exc.value.message_dict["id_number"] == [
        "This NIK belongs to one of the dealer's people (outlet staff, present or past, an "
        "admin or an outlet owner). Only the end user may be registered, with their own NIK."
    ]
    # Before 14 May 2018 the rule was not in force.
    prepare(clerk, _insider_buyer(pack), date(2018, 5, 13))


def test_another_dealers_people_are_not_this_dealers(clerk, outlet):
    from core import pii

    StaffFactory(outlet=OutletFactory(), id_number_digest=pii.digest(INSIDER_NIK))
    pack = StarterPackFactory(outlet=outlet)
    day = date(2026, 8, 3)
    prepare(clerk, _insider_buyer(pack), day, **photos_for(day))


def test_a_buyer_sharing_a_clerks_family_card_is_flagged_not_refused(clerk, outlet):
    from core import pii

    OutletStaff.objects.filter(user=clerk).update(kk_number_digest=pii.digest(INSIDER_KK))
    pack = StarterPackFactory(outlet=outlet)
    day = date(2026, 8, 3)
    registration = services.registration_create(
        clerk=clerk, data=_insider_buyer(pack), now=at(day), **photos_for(day)
    )
    assert registration.status == Registration.Status.FLAGGED
    assert registration.review_reasons[0]["code"] == "insider_kk"


@pytest.mark.parametrize("channel", ["counter", "late_check"])
def test_the_family_card_the_registry_knows_is_flagged_when_none_was_entered(
    clerk, outlet, settings, channel
):
    """The rule set in force asks for no KK: a buyer on a clerk's family card is flagged all the
    same — the population registry knows the buyer's KK — at the counter and when the registry
    answers late."""
    from core import pii

    OutletStaff.objects.filter(user=clerk).update(kk_number_digest=pii.digest(INSIDER_KK))
    pack = StarterPackFactory(outlet=outlet)
    day = date(2026, 8, 3)
    data = {**_insider_buyer(pack), "kk_number": ""}  # the registry has the buyer on INSIDER_KK
    if channel == "late_check":
        settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    registration = services.registration_create(
        clerk=clerk, data=data, now=at(day), **photos_for(day)
    )
    if channel == "late_check":
        assert registration.status == Registration.Status.AWAITING
        settings.POPULATION_REGISTRY_MOCK_FAULT = ""
        services.registration_verify(registration_id=registration.pk)
        registration.refresh_from_db()

    assert registration.kk_number_digest == pii.digest("")
    assert registration.status == Registration.Status.FLAGGED
    assert [r["code"] for r in registration.review_reasons] == ["insider_kk"]


def test_a_family_card_the_registry_knows_flags_nobody_else(clerk, outlet):
    pack = StarterPackFactory(outlet=outlet)
    day = date(2026, 8, 3)
    data = {**_insider_buyer(pack), "kk_number": ""}

    registration = services.registration_create(
        clerk=clerk, data=data, now=at(day), **photos_for(day)
    )

    assert registration.status == Registration.Status.REGISTERED


# --- minors in 2026: the child's NIK, the head of family's face ---------------------------------

CHILD_BIRTH = date(2012, 5, 5)
FAMILY_KK = make_kk(recorded=date(2011, 7, 19), region="317104", serial=905)
CHILD = make_nik(birth_date=CHILD_BIRTH, sex="M", regency="71", district="04", serial=2202)
HEAD = make_nik(birth_date=date(1980, 2, 2), sex="M", regency="71", district="04", serial=2201)


def _child(pack, **overrides):
    data = valid(pack, date(2026, 8, 3), id_number=CHILD, birth_date=CHILD_BIRTH.isoformat(),
                 sex="M", full_name="Rizky Hidayat", kk_number=FAMILY_KK, **overrides)  # fmt: skip
    register_person({"id_number": HEAD, "birth_date": "1980-02-02", "full_name": "Hendra"},
                    kk_number=FAMILY_KK, head_of_family=True)  # fmt: skip
    return data


def test_a_minor_registers_through_the_head_of_family(clerk, pack):
    day = date(2026, 8, 3)
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, _child(pack), day, **photos_for(day))
    assert "guardian_id_number" in fields_of(exc)
    prepared = prepare(clerk, _child(pack, guardian_id_number=HEAD), day, **photos_for(day))
    assert prepared.registry.face.matched
    # The head of family's NIK is kept like the buyer's: encrypted, digested, masked.
    child = services.registration_create(
        clerk=clerk, data=_child(pack, guardian_id_number=HEAD), now=at(day), **photos_for(day)
    )
    assert pii.decrypt(child.guardian_id_number_encrypted) == HEAD
    assert child.guardian_id_number_digest == pii.digest(HEAD)
    assert child.guardian_id_number_masked == HEAD[:4] + "********" + HEAD[-4:]
    # Someone not the head of the child's family: refused.
    with pytest.raises(ValidationError) as exc:
        prepare(
            clerk, _child(StarterPackFactory(outlet=pack.outlet), guardian_id_number=INSIDER_NIK),
            day, **photos_for(day),
        )  # fmt: skip
    assert "guardian_id_number" in fields_of(exc)


def test_a_minors_face_refusal_speaks_of_the_head_of_family(clerk, pack):
    day = date(2026, 8, 3)
    data = _child(pack, guardian_id_number=HEAD)
    register_person({"id_number": HEAD, "birth_date": "1980-02-02", "full_name": "Hendra"},
                    kk_number=FAMILY_KK, head_of_family=True, face_hash="ffffffffffffffff")  # fmt: skip

    with pytest.raises(ValidationError) as exc, translation.override("en"):
        prepare(clerk, data, day, **photos_for(day))

    message = exc.value.message_dict["face_photo"][0]
    assert "head of family's NIK" in message and "the buyer must" not in message


def test_a_head_of_familys_nik_is_refused_for_an_adult_buyer(clerk, pack):
    """A guardian's NIK is taken for a minor only: for an adult it would store a third
    person's number without a purpose (and a data-subject request of theirs would find it)."""
    day = date(2026, 8, 3)
    data = valid(pack, day, guardian_id_number=HEAD)

    with pytest.raises(ValidationError) as exc, translation.override("en"):
        prepare(clerk, data, day, **photos_for(day))

    assert fields_of(exc) == {"guardian_id_number"}
    assert "only for a buyer under 17" in exc.value.message_dict["guardian_id_number"][0]
    assert not Registration.objects.exists()


def test_before_the_rules_knew_minors_a_head_of_familys_nik_is_refused(clerk, pack):
    day = date(2025, 3, 3)
    data = {**_child(pack), "statement_signed": True, "guardian_id_number": HEAD}

    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, day, id_photo=photo_upload())

    assert fields_of(exc) == {"guardian_id_number"}


def test_a_face_photo_is_not_stored_where_the_rules_do_not_verify_it(clerk, pack):
    """A foreign buyer's passport under the 2026 rules: no face is verified, so a face photo
    sent anyway is not kept (biometric data without a purpose)."""
    day = date(2026, 8, 3)
    data = valid(pack, day, id_type="passport", id_number="A1234567", nationality="JP",
                 kk_number="")  # fmt: skip

    registration = services.registration_create(
        clerk=clerk, data=data, now=at(day), **photos_for(day)
    )

    assert registration.id_photo and not registration.face_photo
    assert registration.face_verdict == ""


def test_before_2026_a_minor_registers_with_their_own_nik(clerk, pack):
    day = date(2025, 3, 3)
    data = {**_child(pack), "statement_signed": True}
    assert prepare(clerk, data, day, id_photo=photo_upload()).registry.checked


def test_the_buyers_age_is_taken_on_the_day_of_the_registration(clerk, pack):
    # Sixteen on the day of the sale, seventeen since: a minor then, so the head of family's
    # NIK is asked, whatever the buyer's age today.
    born, day = date(2009, 8, 10), date(2026, 8, 3)
    nik = make_nik(birth_date=born, sex="M", regency="71", district="04", serial=2203)
    data = valid(pack, day, id_number=nik, birth_date=born.isoformat(), sex="M",
                 full_name="Rizky Hidayat", kk_number=FAMILY_KK)  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        prepare(clerk, data, day, **photos_for(day))
    assert exc.value.message_dict == {
        "guardian_id_number": [
            "The buyer is under 17: enter the NIK of the head of family on the buyer's family "
            "card (KK); the registry verifies the head of family's face."
        ]
    }


# --- the re-seed changes no verdict --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_reseeding_the_rule_sets_changes_no_registration(clerk, pack):
    """A database built before migration 0008: registrations made under the old rows (the
    2018 row's staff ban, the 2026 row from 1 Jan, a flagged over-cap one) keep their rule
    set, status and review reasons through it."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from core import pii

    def migrate(targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return MigrationExecutor(connection)

    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    before = [("subscribers", "0007_rules_and_registry")]
    try:
        old = migrate(before).loader.project_state(before).apps
        OldPolicy = old.get_model("subscribers", "RegistrationPolicy")
        OldRegistration = old.get_model("subscribers", "Registration")
        OldPolicy.objects.filter(code="2026").update(effective_from=date(2026, 1, 1))
        policies = {p.code: p for p in OldPolicy.objects.all()}
        made = []
        for n, (code, status, reasons) in enumerate(
            [
                ("2018", "registered", []),
                ("2018", "flagged", [{"code": "over_cap", "message": "ID holds 3 numbers"}]),
                ("2026", "registered", []),
                ("2017", "registered", []),  # a citizen's passport, accepted then
            ]
        ):
            the_pack = StarterPackFactory(outlet=pack.outlet)
            made.append(
                OldRegistration.objects.create(
                    registration_number=f"SPOLD{n}", outlet_id=pack.outlet_id,
                    starter_pack_id=the_pack.pk, msisdn=the_pack.msisdn,
                    policy_id=policies[code].pk, id_type="passport",
                    id_number_encrypted=pii.encrypt("A1234567"),
                    id_number_digest=pii.digest("A1234567"), id_number_masked="A1****67",
                    full_name="Siti", birth_place="Bandung", birth_date=date(1990, 8, 17),
                    sex="F", address="Jl. 1", consent_at=timezone.now(), status=status,
                    review_reasons=reasons, registered_at=at(date(2026, 1, 5)),
                )
            )  # fmt: skip
        verdicts = {r.pk: (r.policy_id, r.status, r.review_reasons) for r in made}
        codes = {p.pk: p.code for p in policies.values()}
    finally:
        migrate(leaves)

    after = {
        r.pk: (r.policy_id, r.status, r.review_reasons)
        for r in Registration.objects.filter(pk__in=verdicts)
    }
    assert after == verdicts
    for policy_id, _status, _reasons in after.values():
        assert RegistrationPolicy.objects.get(pk=policy_id).code == codes[policy_id]
    assert RegistrationPolicy.objects.get(code="2026").effective_from == date(2026, 1, 19)


def test_the_audit_row_says_the_registry_was_not_asked_under_a_rule_set_without_it(clerk, outlet):
    """Before the NIK era (31 October 2017) the population registry was not asked at the
    counter: the audit row says so (not "checked")."""
    from core.models import AuditEvent

    (registration,) = _hold(clerk, outlet, date(2016, 6, 1), 1)
    # No photo was asked for, and no face compared: nothing pending, no hash of a face.
    assert registration.photo_status == Registration.PhotoStatus.NONE
    assert (registration.face_sha256, registration.face_score) == ("", None)

    after = AuditEvent.objects.get(
        action="registration.create", target_id=str(registration.pk)
    ).after
    assert (after["policy"], after["registry"], after["face_verdict"]) == (
        "2015",
        "not_asked",
        "",
    )


@pytest.mark.parametrize(("born", "refused"), [("1905-12-08", False), ("1905-12-07", True)])
def test_the_age_limit_of_120_years_is_counted_on_the_day(policies, born, refused):
    """The form's limit is the NIK's (``idrules``): more than 120 years old on the day — a buyer
    who turns 121 tomorrow is 120 today, whatever the calendar years say."""
    from subscribers.rules import FieldErrors, clean_registration_fields

    today = date(2026, 12, 7)
    errors = FieldErrors()
    clean_registration_fields(
        {"birth_date": born}, policy=policy_in_force(at=at(today)), today=today, errors=errors
    )

    assert ("birth_date" in errors.errors) is refused


@pytest.mark.parametrize(("given", "refused"), [("MY", False), ("gb", False), ("ZZ", True),
                                                ("XX", True), ("UK", True), ("I D", True)])  # fmt: skip
def test_a_nationality_is_an_assigned_iso_3166_code(policies, given, refused):
    from subscribers.rules import FieldErrors, clean_registration_fields

    today = date(2026, 8, 3)
    errors = FieldErrors()
    clean_registration_fields(
        {"nationality": given}, policy=policy_in_force(at=at(today)), today=today, errors=errors
    )

    assert ("nationality" in errors.errors) is refused
