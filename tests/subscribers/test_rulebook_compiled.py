"""A rule set's predicates are built once and kept (``rulebook.compiled``), for the form, the
API, the import and the registration service: a rule set changed since — in the database or on
the object in hand — is judged by its new values, never by the predicates kept for the old."""

from datetime import date

import pytest

from identity.idgen import make_kk, make_nik
from subscribers import drafts, rulebook
from subscribers.models import RegistrationPolicy
from subscribers.rules import FieldErrors, clean_registration_fields
from subscribers.selectors import policy_in_force

pytestmark = pytest.mark.django_db

DAY = date(2024, 5, 1)  # under the 2018-11 rule set: citizens register with their e-KTP only
BORN = date(1990, 4, 2)


def buyer(**overrides) -> dict:
    data = {
        "msisdn": "081234567890",
        "iccid": "",
        "id_type": "ktp",
        "id_number": make_nik(birth_date=BORN, sex="M", serial=11),
        "kk_number": make_kk(recorded=date(2012, 5, 14), serial=11),
        "full_name": "Budi Santoso",
        "birth_place": "Bandung",
        "birth_date": BORN.isoformat(),
        "sex": "M",
        "address": "Jl. Kenanga No. 5, Bandung",
        "nationality": "ID",
        "statement_signed": True,
    }
    data.update(overrides)
    return data


def faults(policy, data) -> dict:
    errors = FieldErrors()
    clean_registration_fields(data, policy=policy, today=DAY, errors=errors)
    return errors.errors


def reloaded(policy) -> RegistrationPolicy:
    return RegistrationPolicy.all_objects.get(pk=policy.pk)


def test_a_draft_edited_in_the_database_is_judged_by_its_new_rules(policies, operator):
    source = policy_in_force(at=DAY)
    assert source.code == "2018-11" and source.citizen_id_types == ["ktp"]
    sim = buyer(id_type="sim")  # a new licence carries the NIK
    draft = drafts.draft_create(actor=operator, source=source)
    assert "id_type" in faults(draft, sim) and "id_type" in faults(source, sim)

    draft.citizen_id_types = ["ktp", "sim"]
    draft.save()
    assert faults(reloaded(draft), sim) == {} == faults(reloaded(draft), buyer())
    assert "id_type" in faults(reloaded(source), sim)  # the rule set in force is unchanged

    edited = reloaded(draft)
    edited.citizen_id_types = ["sim"]
    edited.save()
    assert "id_type" in faults(reloaded(draft), buyer())
    assert faults(reloaded(draft), sim) == {}
    assert faults(policy_in_force(at=DAY), buyer()) == {}


def test_a_rule_set_changed_on_the_object_in_hand_is_honoured(policies):
    policy = policy_in_force(at=DAY)
    assert faults(policy, buyer()) == {}
    policy.citizen_proof = "document"  # before the NIK era: no KK asked
    assert faults(policy, buyer(kk_number="")) == {}
    policy.citizen_proof = "nik_kk"
    assert "kk_number" in faults(policy, buyer(kk_number=""))
    policy.signed_statement_required = True
    assert "statement_signed" in faults(policy, buyer(statement_signed=False))
    policy.signed_statement_required = False
    assert "statement_signed" not in faults(policy, buyer(statement_signed=False))
    policy.citizen_id_types.append("sim")  # the list edited in place
    assert faults(policy, buyer(id_type="sim")) == {}


def test_equal_rule_sets_share_their_predicates_and_a_change_builds_new_ones(policies):
    policy = policy_in_force(at=DAY)
    kept = rulebook.compiled(policy)
    assert rulebook.compiled(policy_in_force(at=DAY)) is kept
    policy.max_numbers_per_id = 5
    assert rulebook.compiled(policy) is not kept
    facts = {"personal": True, "held_before": 4, "outlet_operator": False,
             "outlet_authorised": False}  # fmt: skip
    assert kept.cap_refused.holds(facts) is True  # cap 3
    assert rulebook.compiled(policy).cap_refused.holds(facts) is False  # cap 5


class _Reader:
    """A rule set that records which of its fields are read."""

    def __init__(self) -> None:
        self.read: set[str] = set()

    def __getattr__(self, name):
        self.read.add(name)
        return None


def test_the_key_holds_every_field_a_predicate_reads():
    reader = _Reader()
    rulebook.id_type_accepted(reader)
    for build in rulebook.DECISIONS.values():
        build(reader)
    assert reader.read <= set(rulebook.RULE_FIELDS)


def test_a_partial_rule_set_is_judged_as_before():
    """Anything with a rule set's fields may be judged (the preview's drafts, a test's
    stand-in); fields it lacks read as absent."""

    class Partial:
        citizen_proof = "nik_kk"

    decide = rulebook.compiled(Partial())
    assert decide.kk_missing.holds({"citizen": True, "id_type": "ktp", "has_kk": False})
    assert decide.id_type_refused.holds({"id_type": "ktp", "citizen": True})


def test_the_remembered_verdicts_are_the_predicates_own(policies):
    """Every decision of every seeded rule set, on every combination of facts (twice: the
    second time from what was remembered), decides as the predicate itself."""
    import itertools
    import random

    rng = random.Random(5)
    combos = [
        {
            "id_type": id_type, "citizen": citizen, "personal": personal, "has_kk": has_kk,
            "face_shown": face, "imported": imported, "statement_signed": signed,
            "document_refused": refused, "held_before": held, "outlet_operator": operator,
            "outlet_authorised": authorised, "has_purpose": purpose,
            "insider_id": insider, "insider_kk": rng.random() < 0.5,
        }
        for id_type, citizen, personal, has_kk, face, imported, signed, refused, held,
            operator, authorised, purpose, insider in itertools.product(
            ("ktp", "sim", "passport", "kitas"), *[(False, True)] * 7, (0, 2, 3, 10, 11),
            *[(False, True)] * 4,
        )
        if rng.random() < 0.05
    ]  # fmt: skip
    for policy in RegistrationPolicy.objects.all():
        decide = rulebook.compiled(policy)
        for _round in range(2):
            for facts in combos:
                for build in rulebook.DECISIONS.values():
                    rule = getattr(decide, build.__name__)
                    assert rule.holds(facts) is build(policy).holds(facts), (policy, facts)
