"""Outlet onboarding and status: applications, ROIDs (never reused), suspension, revocation."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from core.models import AuditEvent
from outlets import services
from outlets.models import (
    ROID_VALIDATOR,
    Notice,
    Outlet,
    OutletApplication,
    RoidSequence,
    StarterPack,
    StockAllocation,
)
from subscribers import services as registration_services
from tests.conftest import buyer_data
from tests.factories import OutletFactory

pytestmark = pytest.mark.django_db

APPLICATION = {
    "name": "Konter Baru",
    "owner_name": "Sri Wahyuni",
    "owner_phone": "081234567890",
    # The owner's own NIK, collected at onboarding: the outlet may never register with it.
    "owner_id_number": "3374015506800003",
    "address": "Jl. Pemuda 7",
    "region": "Kota Semarang",
    "province": "33",
    "staff_note": "Sri\nAgus",
}


@pytest.fixture
def application(dealer_user):
    return services.outlet_application_submit(actor=dealer_user, **APPLICATION)


def test_dealer_applies_and_operator_approves_with_a_new_roid(
    application, operator, dealer_user, dealer_org, django_capture_on_commit_callbacks
):
    dealer_user.email = "dealer@example.org"
    dealer_user.save()
    assert application.status == OutletApplication.Status.PENDING
    assert application.dealer == dealer_org

    with django_capture_on_commit_callbacks(execute=True):
        outlet = services.outlet_application_approve(
            actor=operator, application=application, note="Lengkap"
        )

    assert outlet.roid == "RO33000001"
    ROID_VALIDATOR(outlet.roid)
    assert (outlet.dealer, outlet.name, outlet.province, outlet.status) == (
        dealer_org,
        "Konter Baru",
        "33",
        Outlet.Status.ACTIVE,
    )
    application.refresh_from_db()
    assert application.status == OutletApplication.Status.APPROVED
    assert application.outlet == outlet and application.decided_by == operator
    assert {e.action for e in AuditEvent.objects.all()} >= {
        "outlet_application.submit",
        "outlet_application.approve",
        "outlet.create",
    }
    notice = Notice.objects.get(dealer=dealer_org)
    assert notice.kind == Notice.Kind.APPLICATION_APPROVED and notice.outlet == outlet
    assert len(mail.outbox) == 1 and "RO33000001" in mail.outbox[0].subject


def test_roids_run_per_province(dealer_user, operator):
    roids = []
    for province in ("33", "33", "31"):
        app = services.outlet_application_submit(
            actor=dealer_user, **{**APPLICATION, "province": province}
        )
        roids.append(services.outlet_application_approve(actor=operator, application=app).roid)

    assert roids == ["RO33000001", "RO33000002", "RO31000001"]


def test_a_revoked_outlets_roid_is_never_issued_again(dealer_user, operator):
    first = services.outlet_application_approve(
        actor=operator,
        application=services.outlet_application_submit(actor=dealer_user, **APPLICATION),
    )
    services.outlet_revoke(actor=operator, outlet=first, reason="Fraud")
    # Even if the counter were set back by hand, an issued ROID is skipped.
    RoidSequence.objects.filter(prefix="RO33").update(last_number=0)

    second = services.outlet_application_approve(
        actor=operator,
        application=services.outlet_application_submit(actor=dealer_user, **APPLICATION),
    )

    first.refresh_from_db()
    assert first.status == Outlet.Status.REVOKED and first.roid == "RO33000001"
    assert second.roid == "RO33000002"
    assert Outlet.objects.filter(roid="RO33000001").count() == 1


def test_a_roid_typed_by_hand_in_the_sequence_is_skipped(dealer_org):
    OutletFactory(dealer=dealer_org, roid="RO33000001", province="33")

    assert services.roid_issue(province="33") == "RO33000002"


def test_an_application_is_decided_once(application, operator):
    services.outlet_application_approve(actor=operator, application=application)

    with pytest.raises(ValidationError) as exc:
        services.outlet_application_reject(actor=operator, application=application, reason="No")

    assert "already decided: approved" in exc.value.messages[0]
    assert Outlet.objects.filter(name="Konter Baru").count() == 1


def test_rejection_needs_a_reason_and_tells_the_dealer(application, operator, dealer_org):
    with pytest.raises(ValidationError) as exc:
        services.outlet_application_reject(actor=operator, application=application, reason=" ")
    assert "reason" in exc.value.message_dict

    services.outlet_application_reject(
        actor=operator, application=application, reason="Alamat fiktif"
    )

    application.refresh_from_db()
    assert application.status == "rejected" and application.outlet is None
    assert Notice.objects.get(dealer=dealer_org).reason == "Alamat fiktif"


@pytest.mark.parametrize("persona", ["dealer_user", "grapari", "regulator", "clerk"])
def test_only_the_operator_decides(application, persona, request):
    with pytest.raises(PermissionDenied):
        services.outlet_application_approve(
            actor=request.getfixturevalue(persona), application=application
        )
    application.refresh_from_db()
    assert application.status == "pending"


@pytest.mark.parametrize("persona", ["clerk", "grapari", "regulator", "operator"])
def test_only_dealer_admins_apply_for_their_dealer(persona, request):
    with pytest.raises(PermissionDenied):
        services.outlet_application_submit(actor=request.getfixturevalue(persona), **APPLICATION)


def test_application_fields_are_checked(dealer_user):
    with pytest.raises(ValidationError) as exc:
        services.outlet_application_submit(
            actor=dealer_user, **{**APPLICATION, "province": "99", "name": " "}
        )
    assert set(exc.value.message_dict) == {"province", "name"}
    assert not OutletApplication.objects.exists()


# --- status ------------------------------------------------------------------------------------


def test_suspend_and_reinstate_with_reasons_audit_and_notices(operator, outlet, clerk, pack):
    services.outlet_suspend(actor=operator, outlet=outlet, reason="Klarifikasi belum dijawab")

    assert outlet.status == Outlet.Status.SUSPENDED
    assert outlet.status_reason == "Klarifikasi belum dijawab"
    with pytest.raises(ValidationError) as exc:
        registration_services.registration_prepare(clerk=clerk, data=buyer_data(pack))
    assert "suspended" in exc.value.messages[0]

    services.outlet_reinstate(actor=operator, outlet=outlet, reason="Dijawab")

    assert outlet.status == Outlet.Status.ACTIVE
    events = list(AuditEvent.objects.filter(target_type="outlets.outlet").order_by("id"))
    assert [(e.action, e.before["status"], e.after["status"]) for e in events] == [
        ("outlet.suspend", "active", "suspended"),
        ("outlet.reinstate", "suspended", "active"),
    ]
    assert list(Notice.objects.order_by("id").values_list("kind", flat=True)) == [
        "outlet_suspended",
        "outlet_reinstated",
    ]


def test_impossible_transitions_are_refused(operator, outlet):
    with pytest.raises(ValidationError) as exc:
        services.outlet_reinstate(actor=operator, outlet=outlet, reason="x")
    assert "only a suspended outlet can be reinstated" in exc.value.messages[0]

    services.outlet_revoke(actor=operator, outlet=outlet, reason="Fraud")
    for action in (services.outlet_suspend, services.outlet_reinstate, services.outlet_revoke):
        with pytest.raises(ValidationError):
            action(actor=operator, outlet=outlet, reason="x")
    outlet.refresh_from_db()
    assert outlet.status == Outlet.Status.REVOKED


def test_a_reason_is_required(operator, outlet):
    with pytest.raises(ValidationError) as exc:
        services.outlet_suspend(actor=operator, outlet=outlet, reason="")
    assert "reason" in exc.value.message_dict
    outlet.refresh_from_db()
    assert outlet.status == Outlet.Status.ACTIVE


def test_grapari_and_the_compliance_workflow_may_sanction_dealers_may_not(
    grapari, dealer_user, clerk, outlet
):
    services.outlet_suspend(actor=grapari, outlet=outlet, reason="Sanksi")
    services.outlet_reinstate(actor="compliance", outlet=outlet, reason="Sanksi selesai")
    assert AuditEvent.objects.filter(action="outlet.reinstate", actor_label="compliance").exists()

    for persona in (dealer_user, clerk):
        with pytest.raises(PermissionDenied):
            services.outlet_suspend(actor=persona, outlet=outlet, reason="x")


def test_revocation_returns_the_outlets_stock_to_the_dealer(operator, outlet, pack):
    services.outlet_revoke(actor=operator, outlet=outlet, reason="Izin dicabut")

    pack.refresh_from_db()
    assert pack.outlet_id is None and pack.status == StarterPack.Status.IN_STOCK
    allocation = StockAllocation.objects.get()
    assert allocation.kind == "to_dealer_stock" and allocation.source == "revocation"


def test_the_owners_nik_is_collected_at_onboarding_and_kept_encrypted(dealer_user, operator):
    """The end-user-only rule needs the owner's NIK (docs/rules.md): required, checked, kept
    encrypted with its digest, and the outlet carries it once approved."""
    from core import pii

    with pytest.raises(ValidationError) as exc:
        services.outlet_application_submit(
            actor=dealer_user, **{**APPLICATION, "owner_id_number": ""}
        )
    assert "owner_id_number" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.outlet_application_submit(
            actor=dealer_user, **{**APPLICATION, "owner_kk_number": "123"}
        )
    assert "owner_kk_number" in exc.value.message_dict
    application = services.outlet_application_submit(actor=dealer_user, **APPLICATION)
    assert application.owner_id_number_masked == "3374********0003"
    assert "3374015506800003" not in application.owner_id_number_encrypted
    outlet = services.outlet_application_approve(actor=operator, application=application)
    assert outlet.owner_id_number_digest == pii.digest("3374015506800003")
    assert pii.decrypt(outlet.owner_id_number_encrypted) == "3374015506800003"
