"""seed_demo: the demo organisation and users, idempotent, refused outside DEBUG."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest

from accounts.management.commands.seed_demo import DEMO_PASSWORD
from accounts.models import User
from compliance.reconciliation import generator
from core.models import AuditEvent
from outlets.models import Dealer, DealerAdmin, Outlet, OutletStaff, StarterPack
from subscribers.models import Registration

pytestmark = pytest.mark.django_db

MODELS = (Dealer, Outlet, OutletStaff, DealerAdmin, StarterPack, User, Registration, AuditEvent)


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True


def snapshot():
    return {
        "counts": {model.__name__: model.objects.count() for model in MODELS},
        "passwords": dict(User.objects.values_list("username", "password")),
        "staff": list(OutletStaff.objects.order_by("pk").values()),
        "packs": dict(StarterPack.objects.values_list("msisdn", "status")),
    }


def test_seed_twice_gives_the_same_state(debug_on, capsys):
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first

    counts = first["counts"]
    assert counts["Dealer"] == 1 and counts["Outlet"] >= 3
    assert counts["Registration"] >= 24
    assert counts["AuditEvent"] == counts["Registration"]  # one audit row per registration
    assert DEMO_PASSWORD in capsys.readouterr().out


def test_demo_organisation(debug_on):
    call_command("seed_demo")
    clerk = OutletStaff.objects.select_related("outlet").get(user__username="clerk")
    clerk2 = OutletStaff.objects.select_related("outlet").get(user__username="clerk2")
    assert clerk.outlet != clerk2.outlet
    assert clerk.outlet.dealer_id == clerk2.outlet.dealer_id
    assert clerk.outlet.may_register and clerk2.outlet.may_register
    assert clerk.id_number_digest and clerk.id_number_encrypted  # the 2018 rule has data
    assert len(set(Outlet.objects.values_list("province", flat=True))) >= 3
    for outlet in Outlet.objects.all():
        assert outlet.starter_packs.filter(status=StarterPack.Status.IN_STOCK).count() >= 50
    assert DealerAdmin.objects.get(user__username="dealer").dealer == clerk.outlet.dealer

    registrations = Registration.objects.select_related("policy")
    assert {r.policy.code for r in registrations} >= {"2026"}
    assert all(r.source == Registration.Source.IMPORT for r in registrations)
    assert registrations.filter(status=Registration.Status.FLAGGED).exists()


@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("clerk", User.Role.OUTLET_STAFF),
        ("clerk2", User.Role.OUTLET_STAFF),
        ("dealer", User.Role.DEALER_ADMIN),
        ("grapari", User.Role.GRAPARI),
        ("regulator", User.Role.REGULATOR),
        ("admin", User.Role.OPERATOR),
    ],
)
def test_demo_users_log_in_with_the_demo_password(debug_on, client, username, role):
    call_command("seed_demo")
    assert client.login(request=HttpRequest(), username=username, password=DEMO_PASSWORD)
    user = User.objects.get(username=username)
    assert user.role == role


def test_roles_and_permissions(debug_on):
    call_command("seed_demo")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert User.objects.get(username="grapari").has_perm("subscribers.reveal_id_number")
    assert not User.objects.get(username="regulator").has_perm("subscribers.reveal_id_number")
    assert not User.objects.get(username="clerk").is_staff


def test_password_option(debug_on, client):
    call_command("seed_demo", password="another-Secret-9")
    assert client.login(request=HttpRequest(), username="clerk", password="another-Secret-9")
    assert not client.login(request=HttpRequest(), username="clerk2", password=DEMO_PASSWORD)


def test_refuses_without_debug_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo")
    assert not User.objects.exists() and not Dealer.objects.exists()

    call_command("seed_demo", force=True)
    assert User.objects.filter(username="clerk").exists()


def test_fills_the_operator_database_when_it_can(debug_on, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(generator, "generate_for_demo", lambda: calls.append(1) or "42 records")
    call_command("seed_demo")
    assert calls == [1]
    assert "42 records" in capsys.readouterr().out


def test_demo_roids_follow_the_approvals_scheme_and_are_never_issued_again(debug_on, operator):
    import re

    from outlets import services as outlet_services
    from outlets.models import OutletApplication

    call_command("seed_demo")

    roids = set(Outlet.objects.values_list("roid", flat=True))
    assert all(re.fullmatch(r"RO\d{2}\d{6}", roid) for roid in roids), roids
    application = OutletApplication.objects.create(
        dealer=Dealer.objects.get(code="AD0001"), name="Konter Baru", owner_name="Sri",
        address="Jl. Baru 1", region="Kota Jakarta Pusat", province="31",
    )  # fmt: skip
    outlet = outlet_services.outlet_application_approve(actor=operator, application=application)
    assert outlet.roid == "RO31000002"


def test_an_older_demo_database_is_reshaped_in_place(debug_on):
    call_command("seed_demo")
    Outlet.objects.filter(roid="RO31000001").update(roid="ROJKT000001")
    count = Outlet.objects.count()

    call_command("seed_demo")

    assert Outlet.objects.count() == count
    assert not Outlet.objects.filter(roid__startswith="ROJKT").exists()
    assert Outlet.objects.get(roid="RO31000001").name == "Konter Sinar Jaya"


def test_a_first_reconciliation_right_after_seeding_finds_what_the_demo_plants(debug_on, capsys):
    """The demo's sales were verified when they were made: a reconciliation run at once (not an
    hour later, after an activation grace counted from the seeding) finds the number the
    operator does not have."""
    import json

    call_command("seed_demo")
    capsys.readouterr()
    call_command("reconcile", "--full", "--sync", "--json")

    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"].get("missing_in_operator", 0) >= 1, summary
