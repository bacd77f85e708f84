"""The operator's admin: outlets get their ROID from the sequence, status changes and
application decisions go through the services (reason, audit), nothing is deleted."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from outlets import services
from outlets.models import Outlet, OutletApplication

from .test_outlets_services import APPLICATION

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_an_outlet_added_in_the_admin_gets_the_next_roid(admin_client, dealer_org):
    response = admin_client.post(
        reverse("admin:outlets_outlet_add"),
        {
            "dealer": dealer_org.pk,
            "roid": "",
            "name": "Konter Admin",
            "owner_name": "X",
            "address": "Y",
            "region": "Kota Medan",
            "province": "12",
            "staff-TOTAL_FORMS": "0",
            "staff-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, (
        response.context["adminform"].errors if response.context else ""
    )
    assert Outlet.objects.get(name="Konter Admin").roid == "RO12000001"


def test_status_actions_ask_for_a_reason_then_use_the_service(admin_client, outlet):
    url = reverse("admin:outlets_outlet_changelist")
    asked = admin_client.post(url, {"action": "suspend", "_selected_action": [outlet.pk]})
    assert asked.status_code == 200 and b"Reason" in asked.content

    done = admin_client.post(
        url, {"action": "suspend", "_selected_action": [outlet.pk], "apply": "1", "reason": "Audit"}
    )

    assert done.status_code == 302
    outlet.refresh_from_db()
    assert (outlet.status, outlet.status_reason) == ("suspended", "Audit")
    assert AuditEvent.objects.filter(action="outlet.suspend").exists()


def test_no_outlet_is_ever_deleted(admin_client, outlet):
    response = admin_client.get(reverse("admin:outlets_outlet_delete", args=[outlet.pk]))
    assert response.status_code == 403


def test_applications_are_approved_from_the_admin(admin_client, dealer_user):
    application = services.outlet_application_submit(actor=dealer_user, **APPLICATION)

    admin_client.post(
        reverse("admin:outlets_outletapplication_changelist"),
        {"action": "approve", "_selected_action": [application.pk]},
    )

    application.refresh_from_db()
    assert application.status == OutletApplication.Status.APPROVED
    assert application.outlet.roid == "RO33000001"


@pytest.mark.parametrize(
    "model",
    [
        "stockallocation",
        "stockmove",
        "transferagreement",
        "trainingsession",
        "notice",
        "roidsequence",
    ],
)
def test_record_lists_open(admin_client, model):
    assert admin_client.get(reverse(f"admin:outlets_{model}_changelist")).status_code == 200
