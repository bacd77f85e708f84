"""The sanction ladder: confirmed violations within the window → warning → suspension (the clerk
cannot register, the form says why) → revocation; the dealer told; an operator admin lifts a
suspension with a reason; sanctions scoped per role."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from compliance.models import Notification, Sanction, Violation
from compliance.workflow.review import review_item_decide
from core.models import AuditEvent
from outlets.models import Notice, Outlet
from subscribers import ladder
from subscribers.models import RegistrationPolicy, validate_sanction_ladder

from .conftest import answered_item, make_registration

SANCTIONS = "/api/v1/sanctions/"


# --- the ladder as data (no database) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("violations", "action"),
    [
        (0, None),
        (1, "warning"),
        (2, None),
        (3, "suspension"),
        (4, None),
        (5, "revocation"),
        (6, None),
    ],
)
def test_a_rung_is_taken_when_the_count_reaches_it(violations, action):
    assert ladder.action_reached(ladder.default_ladder(), violations) == action


@pytest.mark.parametrize(
    "bad",
    [
        "warning",
        [{"violations": 0, "action": "warning"}],
        [{"violations": 2, "action": "warning"}, {"violations": 2, "action": "suspension"}],
        [{"violations": 1, "action": "suspension"}, {"violations": 3, "action": "warning"}],
        [{"violations": 1, "action": "fine"}],
        [{"violations": "3", "action": "warning"}],
        [{"violations": 1, "action": "warning", "extra": 1}],
    ],
)
def test_an_unusable_ladder_is_refused(bad):
    assert ladder.ladder_problems(bad)
    with pytest.raises(ValidationError):
        validate_sanction_ladder(bad)


def test_the_default_ladder_is_usable():
    assert ladder.ladder_problems(ladder.default_ladder()) == []
    assert ladder.next_rung(ladder.default_ladder(), 1) == {"violations": 3, "action": "suspension"}


# --- the ladder at work --------------------------------------------------------------------------


def _confirm(grapari, outlet, clerk):
    item = answered_item(make_registration(outlet), clerk)
    return review_item_decide(
        actor=grapari, item=item, decision="confirm_violation", reason="False data registered"
    )


@pytest.mark.django_db
def test_warning_then_suspension_then_revocation(
    grapari, outlet, clerk, dealer_user, client, django_capture_on_commit_callbacks
):
    dealer_user.email = "dealer@example.test"
    dealer_user.save()

    with django_capture_on_commit_callbacks(execute=True):
        _confirm(grapari, outlet, clerk)
    warning = Sanction.objects.get()
    assert (warning.level, warning.violations_counted) == ("warning", 1)
    assert Notification.objects.filter(user=dealer_user, text__contains="warning").exists()
    assert any("warning" in m.subject.lower() for m in mail.outbox)
    outlet.refresh_from_db()
    assert outlet.status == "active"

    _confirm(grapari, outlet, clerk)
    assert Sanction.objects.count() == 1  # 2 reaches no rung

    _confirm(grapari, outlet, clerk)
    outlet.refresh_from_db()
    suspension = Sanction.objects.get(level="suspension")
    assert outlet.status == "suspended" and suspension.status_changed
    assert Notice.objects.filter(kind="outlet_suspended", outlet=outlet).exists()
    assert AuditEvent.objects.filter(action="outlet.suspend", target_id=str(outlet.pk)).exists()

    # The clerk cannot register any more, and the form says why.
    client.force_login(clerk)
    form = client.get("/registrations/new/")
    assert b'id="outlet-blocked"' in form.content
    assert b"confirmed violations" in form.content

    _confirm(grapari, outlet, clerk)
    _confirm(grapari, outlet, clerk)
    outlet.refresh_from_db()
    assert outlet.status == "revoked"
    assert list(Sanction.objects.order_by("pk").values_list("level", flat=True)) == [
        "warning",
        "suspension",
        "revocation",
    ]
    assert Violation.objects.filter(outlet=outlet).count() == 5


@pytest.mark.django_db
def test_violations_outside_the_window_do_not_count(grapari, outlet, clerk):
    RegistrationPolicy.objects.update(violation_window_days=30)
    _confirm(grapari, outlet, clerk)
    _confirm(grapari, outlet, clerk)
    Violation.objects.update(confirmed_at=timezone.now() - timedelta(days=31))

    _confirm(grapari, outlet, clerk)

    # 1 within the window: a second warning, no suspension.
    assert list(Sanction.objects.values_list("level", flat=True)) == ["warning", "warning"]


@pytest.mark.django_db
def test_a_custom_ladder_from_the_policy(grapari, outlet, clerk):
    RegistrationPolicy.objects.update(sanction_ladder=[{"violations": 1, "action": "suspension"}])

    _confirm(grapari, outlet, clerk)

    outlet.refresh_from_db()
    assert outlet.status == "suspended"


@pytest.mark.django_db
def test_operator_lifts_a_suspension_with_a_reason(api, grapari, operator, outlet, clerk, client):
    RegistrationPolicy.objects.update(sanction_ladder=[{"violations": 1, "action": "suspension"}])
    _confirm(grapari, outlet, clerk)
    suspension = Sanction.objects.get()

    assert (
        api(grapari).post(f"{SANCTIONS}{suspension.pk}/lift/", {"reason": "x"}).status_code == 403
    )
    no_reason = api(operator).post(f"{SANCTIONS}{suspension.pk}/lift/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()

    lifted = api(operator).post(
        f"{SANCTIONS}{suspension.pk}/lift/", {"reason": "Retrained on 1 Dec"}, format="json"
    )

    assert lifted.status_code == 200, lifted.content
    assert lifted.json()["is_active"] is False
    outlet.refresh_from_db()
    assert outlet.status == "active"
    assert AuditEvent.objects.filter(action="sanction.lift").exists()
    again = api(operator).post(f"{SANCTIONS}{suspension.pk}/lift/", {"reason": "again"})
    assert again.status_code == 409
    # Back at the counter.
    client.force_login(clerk)
    assert b'id="outlet-blocked"' not in client.get("/registrations/new/").content


@pytest.mark.django_db
def test_a_warning_cannot_be_lifted(api, grapari, operator, outlet, clerk):
    _confirm(grapari, outlet, clerk)

    response = api(operator).post(
        f"{SANCTIONS}{Sanction.objects.get().pk}/lift/", {"reason": "x"}, format="json"
    )

    assert response.status_code == 400
    assert Sanction.objects.get().lifted_at is None


@pytest.mark.django_db
def test_sanctions_are_scoped(api, grapari, outlet, other_outlet, clerk, clerk2, dealer_user,
                              other_dealer_user, regulator):  # fmt: skip
    _confirm(grapari, outlet, clerk)
    mine = Sanction.objects.get()

    def ids(user):
        return [row["id"] for row in api(user).get(SANCTIONS).json()["results"]]

    assert ids(clerk) == [mine.pk]
    assert ids(clerk2) == []
    assert ids(dealer_user) == [mine.pk]
    assert ids(other_dealer_user) == []
    assert ids(regulator) == [mine.pk]
    assert api(clerk2).get(f"{SANCTIONS}{mine.pk}/").status_code == 404


@pytest.mark.django_db
def test_outlet_record_page(client, grapari, operator, outlet, clerk, clerk2):
    RegistrationPolicy.objects.update(sanction_ladder=[{"violations": 1, "action": "suspension"}])
    _confirm(grapari, outlet, clerk)
    client.force_login(operator)

    page = client.get(f"/compliance/outlets/{outlet.pk}/")
    assert page.status_code == 200 and b"lift-form" in page.content
    lift = client.post(
        f"/compliance/sanctions/{Sanction.objects.get().pk}/lift/", {"reason": "Retrained"}
    )

    assert lift.status_code == 302
    assert Outlet.objects.get(pk=outlet.pk).status == "active"
    client.force_login(clerk2)
    assert client.get(f"/compliance/outlets/{outlet.pk}/").status_code == 404


@pytest.mark.django_db
def test_the_outlet_record_names_the_next_sanction_in_indonesian(client, grapari, outlet, clerk):
    _confirm(grapari, outlet, clerk)  # 1 of the default ladder: a warning; at 3, a suspension
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(clerk)

    html = client.get(f"/compliance/outlets/{outlet.pk}/").content.decode()

    assert "Pada 3: pembekuan." in html
    assert "suspension" not in html
