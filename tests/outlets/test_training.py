"""Training: sessions, attendance, untrained outlets, and the policy that requires it."""

from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from outlets import selectors, services
from outlets.models import Attendance, TrainingSession
from subscribers import services as registration_services
from subscribers.models import Registration
from subscribers.selectors import policy_in_force
from tests.conftest import buyer_data
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(dealer_user):
    return services.training_session_create(
        actor=dealer_user,
        held_on=timezone.localdate() - timedelta(days=1),
        trainer="Ibu Ratna",
        audience=TrainingSession.Audience.OUTLET,
        topic="Registrasi prabayar sesuai aturan",
    )


@pytest.fixture
def training_required(policies):
    policy = policy_in_force()
    # A published rule set is never edited by the portal: the test sets one up as if seeded so.
    type(policy).objects.filter(pk=policy.pk).update(training_required=True)
    policy.refresh_from_db()
    return policy


def test_an_untrained_clerk_is_refused_under_a_policy_that_requires_training(
    training_required, clerk, pack, photos
):
    with pytest.raises(ValidationError) as exc:
        registration_services.registration_create(clerk=clerk, data=buyer_data(pack), **photos)

    assert exc.value.message_dict == {
        "non_field_errors": [
            "You must attend registration training before you can register buyers."
        ]
    }
    assert not Registration.objects.exists()


def test_the_form_says_so(training_required, clerk, pack, client):
    client.force_login(clerk)
    data = {k: v for k, v in buyer_data(pack).items() if v not in (None, False)}
    data.update(consent="on", document_checked="on")
    response = client.post("/registrations/new/", data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert (
        "You must attend registration training before you can register buyers."
        in response.content.decode()
    )


def test_once_trained_the_clerk_registers(
    training_required, dealer_user, session, clerk, pack, photos
):
    assert (
        services.training_attendance_record(actor=dealer_user, session=session, users=[clerk]) == 1
    )

    registration = registration_services.registration_create(
        clerk=clerk, data=buyer_data(pack), **photos
    )

    assert registration.clerk == clerk


def test_a_registration_judged_on_a_day_before_the_clerks_session_is_refused(
    training_required, dealer_user, session, clerk, pack, photos
):
    # The rules are judged on the registration's own day: a session held after it does not count.
    services.training_attendance_record(actor=dealer_user, session=session, users=[clerk])
    day_before = datetime.combine(
        session.held_on - timedelta(days=1), time(12), tzinfo=timezone.get_current_timezone()
    )
    type(training_required).objects.filter(pk=policy_in_force(at=day_before).pk).update(
        training_required=True
    )

    with pytest.raises(ValidationError) as exc:
        registration_services.registration_prepare(
            clerk=clerk, data=buyer_data(pack), now=day_before, **photos
        )

    assert exc.value.message_dict == {
        "non_field_errors": [
            "You must attend registration training before you can register buyers."
        ]
    }


def test_no_seeded_policy_requires_training(policies, clerk, pack, photos):
    from subscribers.models import RegistrationPolicy

    assert not RegistrationPolicy.objects.filter(training_required=True).exists()
    registration_services.registration_prepare(clerk=clerk, data=buyer_data(pack), **photos)


def test_attendance_is_recorded_once_and_only_after_the_session(
    dealer_user, session, clerk, clerk2
):
    assert (
        services.training_attendance_record(actor=dealer_user, session=session, users=[clerk]) == 1
    )
    assert (
        services.training_attendance_record(
            actor=dealer_user, session=session, users=[clerk, clerk2]
        )
        == 1
    )
    assert Attendance.objects.filter(session=session).count() == 2

    future = services.training_session_create(
        actor=dealer_user,
        held_on=timezone.localdate() + timedelta(days=3),
        trainer="x",
        audience="outlet",
        topic="y",
    )
    with pytest.raises(ValidationError) as exc:
        services.training_attendance_record(actor=dealer_user, session=future, users=[clerk])
    assert "has not taken place yet" in exc.value.message_dict["users"][0]


def test_a_dealer_records_only_its_own_people(
    dealer_user, other_dealer_user, session, clerk, foreign_outlet
):
    stranger = StaffFactory(outlet=foreign_outlet).user

    with pytest.raises(ValidationError):
        services.training_attendance_record(actor=dealer_user, session=session, users=[stranger])
    with pytest.raises(PermissionDenied):
        services.training_attendance_record(
            actor=other_dealer_user, session=session, users=[stranger]
        )
    assert not Attendance.objects.exists()


def test_who_records_sessions_and_for_whom(operator, dealer_user, clerk, grapari):
    held = timezone.localdate()
    grapari_session = services.training_session_create(
        actor=operator, held_on=held, trainer="HQ", audience="grapari", topic="Review"
    )
    assert grapari_session.dealer is None
    with pytest.raises(ValidationError) as exc:
        services.training_session_create(
            actor=dealer_user, held_on=held, trainer="x", audience="grapari", topic="y"
        )
    assert "audience" in exc.value.message_dict
    for refused in (clerk, grapari):
        with pytest.raises(PermissionDenied):
            services.training_session_create(
                actor=refused, held_on=held, trainer="x", audience="outlet", topic="y"
            )
    services.training_attendance_record(actor=operator, session=grapari_session, users=[grapari])


def test_dealers_see_which_outlets_are_untrained(
    dealer_user, session, clerk, clerk2, outlet, other_outlet
):
    assert set(selectors.untrained_outlets_for_user(user=dealer_user)) == {outlet, other_outlet}

    services.training_attendance_record(actor=dealer_user, session=session, users=[clerk])

    assert set(selectors.untrained_outlets_for_user(user=dealer_user)) == {other_outlet}
    # The trained clerk leaves: the outlet is untrained again.
    services.outlet_staff_remove(actor=dealer_user, membership=clerk.outlet_staff)
    assert set(selectors.untrained_outlets_for_user(user=dealer_user)) == {outlet, other_outlet}
