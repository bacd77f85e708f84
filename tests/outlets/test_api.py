"""The dealer-operations API: each resource doing its work, its bad input, and its outsiders."""

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from identity.idgen import make_iccid, make_kk, make_nik
from outlets import services
from outlets.models import (
    Outlet,
    OutletApplication,
    OutletStaff,
    StarterPack,
    StockAllocation,
    TransferAgreement,
)
from outlets.stockfiles import PackLine

from .test_agreements import MINIMAL_PDF
from .test_outlets_services import APPLICATION

pytestmark = pytest.mark.django_db

API = "/api/v1"


def ok(response, status=200):
    assert response.status_code == status, response.content
    return response.json()


# --- applications and outlet status --------------------------------------------------------------


def test_apply_approve_and_the_roid_in_the_answer(client_for, dealer_user, operator):
    created = ok(client_for(dealer_user).post(f"{API}/outlet-applications/", APPLICATION), 201)
    assert created["status"] == "pending" and created["roid"] is None
    assert created["dealer"] == {"code": "AD0001", "name": "PT Maju Seluler"}

    approved = ok(
        client_for(operator).post(f"{API}/outlet-applications/{created['id']}/approve/", {})
    )

    assert approved["status"] == "approved" and approved["roid"] == "RO33000001"
    again = client_for(operator).post(
        f"{API}/outlet-applications/{created['id']}/reject/", {"reason": "x"}
    )
    assert again.status_code == 400 and "already decided" in again.json()["non_field_errors"][0]


def test_application_bad_input_and_roles(
    client_for, dealer_user, clerk, operator, other_dealer_user
):
    bad = client_for(dealer_user).post(
        f"{API}/outlet-applications/", {**APPLICATION, "province": "99", "name": ""}
    )
    assert bad.status_code == 400 and set(bad.json()) == {"province", "name"}
    assert client_for(clerk).post(f"{API}/outlet-applications/", APPLICATION).status_code == 403
    assert client_for(operator).post(f"{API}/outlet-applications/", APPLICATION).status_code == 403
    application = services.outlet_application_submit(actor=dealer_user, **APPLICATION)
    assert (
        client_for(dealer_user)
        .post(f"{API}/outlet-applications/{application.pk}/approve/", {})
        .status_code
        == 403
    )
    theirs = client_for(other_dealer_user)
    assert theirs.get(f"{API}/outlet-applications/{application.pk}/").status_code == 404
    assert ok(theirs.get(f"{API}/outlet-applications/"))["count"] == 0
    assert not OutletApplication.objects.exclude(pk=application.pk).exists()


def test_suspend_reinstate_revoke(
    client_for, grapari, operator, dealer_user, outlet, foreign_outlet
):
    answer = ok(
        client_for(grapari).post(f"{API}/outlets/{outlet.pk}/suspend/", {"reason": "Sanksi"})
    )
    assert answer == {
        "id": outlet.pk,
        "roid": outlet.roid,
        "status": "suspended",
        "status_reason": "Sanksi",
    }
    refused = client_for(grapari).post(f"{API}/outlets/{outlet.pk}/suspend/", {"reason": "Lagi"})
    assert refused.status_code == 400
    assert client_for(grapari).post(f"{API}/outlets/{outlet.pk}/reinstate/", {}).status_code == 400
    assert (
        client_for(dealer_user)
        .post(f"{API}/outlets/{outlet.pk}/revoke/", {"reason": "x"})
        .status_code
        == 403
    )
    ok(client_for(operator).post(f"{API}/outlets/{outlet.pk}/revoke/", {"reason": "Final"}))
    outlet.refresh_from_db()
    assert outlet.status == "revoked"
    # A dealer never reaches another dealer's outlet at all.
    assert (
        client_for(dealer_user)
        .post(f"{API}/outlets/{foreign_outlet.pk}/suspend/", {"reason": "x"})
        .status_code
        == 403
    )


# --- staff ---------------------------------------------------------------------------------------


def test_invite_and_remove_a_clerk(client_for, dealer_user, outlet):
    body = {
        "outlet": outlet.pk,
        "username": "dewi",
        "full_name": "Dewi Lestari",
        "id_number": make_nik(birth_date=date(1992, 5, 6), sex="F", serial=8),
        "kk_number": make_kk(recorded=date(2015, 5, 5), serial=8),
    }
    invited = ok(client_for(dealer_user).post(f"{API}/outlet-staff/", body), 201)

    assert invited["invitation_url"].startswith("http://testserver/outlets/invitation/")
    assert invited["invitation_pending"] is True and invited["outlet"]["roid"] == outlet.roid
    assert body["id_number"] not in str(invited)
    listed = ok(client_for(dealer_user).get(f"{API}/outlet-staff/", {"outlet": outlet.pk}))
    assert "invitation_url" not in listed["results"][0]
    fresh = ok(client_for(dealer_user).post(f"{API}/outlet-staff/{invited['id']}/invitation/"))
    assert fresh["invitation_url"].startswith("http://testserver/outlets/invitation/")

    removed = ok(
        client_for(dealer_user).post(f"{API}/outlet-staff/{invited['id']}/remove/", {"reason": "x"})
    )
    assert removed["is_active"] is False and removed["removed_at"]


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("id", "Peran Anda tidak diizinkan melakukan tindakan ini."),
        ("en", "Your role may not do this."),
    ],
)
def test_a_role_refused_an_action_is_told_in_its_language(
    client_for, grapari, outlet, language, detail
):
    client = client_for(grapari)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language

    response = client.post(f"{API}/outlet-staff/", {"outlet": outlet.pk})

    assert response.status_code == 403
    assert response.json() == {"detail": detail}


def test_a_username_taken_by_an_invitation_at_the_same_moment_is_a_400(
    client_for, dealer_user, outlet, monkeypatch
):
    """Another invitation of the same username commits between the check and the insert."""
    from accounts.models import User
    from identity import idrules

    clean_name = idrules.clean_person_name

    def name_then_taken(name):
        User.objects.create(username="dewi", role=User.Role.OUTLET_STAFF)
        return clean_name(name)

    monkeypatch.setattr(idrules, "clean_person_name", name_then_taken)
    body = {
        "outlet": outlet.pk,
        "username": "dewi",
        "full_name": "Dewi Lestari",
        "id_number": make_nik(birth_date=date(1992, 5, 6), sex="F", serial=8),
        "kk_number": make_kk(recorded=date(2015, 5, 5), serial=8),
    }
    client = client_for(dealer_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    response = client.post(f"{API}/outlet-staff/", body)

    assert response.status_code == 400, response.content
    assert response.json() == {"username": ["Nama pengguna ini sudah dipakai; pilih yang lain."]}
    assert User.objects.filter(username="dewi").count() == 1
    assert not OutletStaff.objects.filter(outlet=outlet).exists()


def test_invite_bad_input_and_other_dealers_outlets(client_for, dealer_user, foreign_outlet, clerk):
    bad = client_for(dealer_user).post(
        f"{API}/outlet-staff/",
        {
            "outlet": foreign_outlet.pk,
            "username": "x",
            "full_name": "X",
            "id_number": "1",
            "kk_number": "1",
        },
    )
    assert bad.status_code == 400 and bad.json() == {"outlet": ["Unknown outlet."]}
    bad = client_for(dealer_user).post(
        f"{API}/outlet-staff/",
        {
            "outlet": clerk.outlet_staff.outlet_id,
            "username": "clerk",
            "full_name": "X",
            "id_number": "1",
            "kk_number": "1",
        },
    )
    assert bad.status_code == 400 and set(bad.json()) == {"username", "id_number", "kk_number"}
    assert client_for(clerk).post(f"{API}/outlet-staff/", {}).status_code == 403


def test_staff_scope(client_for, dealer_user, other_dealer_user, clerk, clerk2, grapari, regulator):
    def usernames(user):
        return {
            row["username"] for row in ok(client_for(user).get(f"{API}/outlet-staff/"))["results"]
        }

    assert usernames(dealer_user) == {"clerk", "clerk2"}
    assert usernames(other_dealer_user) == set()
    assert usernames(clerk) == {"clerk"}
    assert usernames(grapari) == {"clerk", "clerk2"}
    assert usernames(regulator) == set()
    assert client_for(clerk2).get(f"{API}/outlet-staff/{clerk.outlet_staff.pk}/").status_code == 404
    assert (
        client_for(clerk)
        .post(f"{API}/outlet-staff/{clerk.outlet_staff.pk}/remove/", {})
        .status_code
        == 403
    )
    assert (
        client_for(other_dealer_user)
        .post(f"{API}/outlet-staff/{clerk.outlet_staff.pk}/remove/", {})
        .status_code
        == 404
    )
    assert OutletStaff.objects.get(user=clerk).is_active


# --- stock ---------------------------------------------------------------------------------------


def test_operator_allocates_by_json_list_range_and_csv(client_for, operator, dealer_org):
    client = client_for(operator)
    packs = [{"msisdn": f"08130000000{n}", "iccid": make_iccid(n)} for n in (1, 2)]
    by_list = ok(
        client.post(f"{API}/stock-allocations/to-dealer/", {"dealer": "AD0001", "packs": packs}),
        201,
    )
    by_range = ok(
        client.post(
            f"{API}/stock-allocations/to-dealer/",
            {"dealer": "AD0001", "msisdn_from": "081300000010", "msisdn_to": "081300000014"},
        ),
        201,
    )
    csv_body = "msisdn,iccid\n081300000020,\n081300000021,\n"
    by_file = ok(
        client.post(
            f"{API}/stock-allocations/to-dealer/",
            {"dealer": "AD0001", "file": SimpleUploadedFile("p.csv", csv_body.encode())},
            format="multipart",
        ),
        201,
    )

    assert [by_list["pack_count"], by_range["pack_count"], by_file["pack_count"]] == [2, 5, 2]
    assert by_file["source"] == "file p.csv" and by_list["dealer"]["code"] == "AD0001"
    assert StarterPack.objects.filter(dealer=dealer_org).count() == 9


def test_bad_lists_are_refused_by_line_and_nothing_written(client_for, operator, dealer_org, pack):
    client = client_for(operator)
    duplicates = client.post(
        f"{API}/stock-allocations/to-dealer/",
        {
            "dealer": "AD0001",
            "packs": [{"msisdn": "081300000001"}, {"msisdn": "6281300000001"}, {"msisdn": "x"}],
        },
    )
    assert duplicates.status_code == 400
    assert duplicates.json() == {
        "packs": [
            "Line 2: 6281300000001 is already on line 1.",
            "Line 3: “x” is not an Indonesian mobile number.",
        ]
    }
    known = client.post(
        f"{API}/stock-allocations/to-dealer/",
        {
            "dealer": "AD0001",
            "file": SimpleUploadedFile("p.csv", f"msisdn\n{pack.msisdn}\n".encode()),
        },
        format="multipart",
    )
    assert known.status_code == 400 and "already in stock" in known.json()["file"][0]
    backwards = client.post(
        f"{API}/stock-allocations/to-dealer/",
        {"dealer": "AD0001", "msisdn_from": "081300000010", "msisdn_to": "081300000001"},
    )
    assert backwards.status_code == 400 and "msisdn_to" in backwards.json()
    both = client.post(
        f"{API}/stock-allocations/to-dealer/",
        {
            "dealer": "AD0001",
            "packs": [{"msisdn": "081300000001"}],
            "msisdn_from": "081300000001",
            "msisdn_to": "081300000002",
        },
    )
    assert both.status_code == 400 and "one way" in both.json()["non_field_errors"][0]
    unknown_dealer = client.post(
        f"{API}/stock-allocations/to-dealer/",
        {"dealer": "NOPE", "packs": [{"msisdn": "081300000001"}]},
    )
    assert unknown_dealer.status_code == 400 and "dealer" in unknown_dealer.json()
    assert StarterPack.objects.count() == 1 and not StockAllocation.objects.exists()


def test_dealer_allocates_returns_and_reads_moves(
    client_for, dealer_user, outlet, dealer_stock, clerk, clerk2
):
    client = client_for(dealer_user)
    numbers = [p.msisdn for p in dealer_stock[:2]]
    allocation = ok(
        client.post(
            f"{API}/stock-allocations/to-outlet/", {"outlet": outlet.pk, "msisdns": numbers}
        ),
        201,
    )
    assert allocation["outlet"]["roid"] == outlet.roid and allocation["kind"] == "to_outlet"

    history = ok(client.get(f"{API}/stock-moves/", {"msisdn": "0" + numbers[0][2:]}))["results"]
    assert [(m["kind"], m["from_dealer"], m["from_outlet"], m["to_outlet"]) for m in history] == [
        ("to_outlet", "AD0001", None, outlet.roid),
        ("to_dealer", None, None, None),
    ]
    # The clerk of that outlet sees the allocation to it; the other outlet's clerk does not.
    assert ok(client_for(clerk).get(f"{API}/stock-allocations/"))["count"] == 1
    assert client_for(clerk2).get(f"{API}/stock-allocations/{allocation['id']}/").status_code == 404

    back = ok(
        client.post(
            f"{API}/stock-allocations/to-dealer-stock/",
            {"outlet": outlet.pk, "msisdns": numbers[:1]},
        ),
        201,
    )
    assert back["pack_count"] == 1
    everything = client.post(f"{API}/stock-allocations/to-dealer-stock/", {"outlet": outlet.pk})
    assert everything.status_code == 201
    assert (
        client.post(f"{API}/stock-allocations/to-dealer-stock/", {"outlet": outlet.pk}).status_code
        == 204
    )


def test_packs_not_held_and_sold_packs_through_the_api(
    client_for, dealer_user, outlet, pack, another_dealers_pack
):
    StarterPack.objects.filter(pk=pack.pk).update(status="registered", outlet=None)
    response = client_for(dealer_user).post(
        f"{API}/stock-allocations/to-outlet/",
        {"outlet": outlet.pk, "msisdns": [pack.msisdn, another_dealers_pack.msisdn]},
    )
    assert response.status_code == 400
    assert response.json() == {
        "msisdns": [
            f"Line 1: {pack.msisdn} is already registered and cannot be moved.",
            f"Line 2: {another_dealers_pack.msisdn} is not in your dealer's stock.",
        ]
    }


@pytest.mark.parametrize("persona", ["clerk", "grapari", "regulator", "dealer_user"])
def test_only_the_operator_allocates_to_dealers(client_for, persona, request, dealer_org):
    response = client_for(request.getfixturevalue(persona)).post(
        f"{API}/stock-allocations/to-dealer/",
        {"dealer": "AD0001", "packs": [{"msisdn": "081300000001"}]},
    )
    assert response.status_code == 403
    assert not StarterPack.objects.exists()


# --- agreements ----------------------------------------------------------------------------------


def test_agreement_draft_then_document_then_download(
    client_for, dealer_user, dealer_stock, regulator, grapari
):
    client = client_for(dealer_user)
    party = ok(
        client.post(f"{API}/responsible-parties/", {"name": "CV Mitra", "phone": "0812"}), 201
    )
    body = {
        "party": party["id"],
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "ranges": [{"msisdn_from": dealer_stock[0].msisdn, "msisdn_to": dealer_stock[1].msisdn}],
    }
    agreement = ok(client.post(f"{API}/agreements/", body), 201)
    assert (
        agreement["status"] == "draft"
        and agreement["pack_count"] == 2
        and not agreement["has_document"]
    )
    assert client.get(f"{API}/agreements/{agreement['id']}/document/").status_code == 404

    uploaded = ok(
        client.post(
            f"{API}/agreements/{agreement['id']}/document/",
            {"document": SimpleUploadedFile("pks.pdf", MINIMAL_PDF)},
            format="multipart",
        )
    )
    assert uploaded["status"] == "active" and uploaded["document_content_type"] == "application/pdf"

    download = client_for(grapari).get(
        f"{API}/agreements/{agreement['id']}/document/", HTTP_ACCEPT="application/pdf"
    )
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    # Stored rewritten without metadata (outlets.services.agreements.clean_pdf).
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    refused = client_for(regulator).get(
        f"{API}/agreements/{agreement['id']}/document/", HTTP_ACCEPT="application/pdf"
    )
    assert refused.status_code == 403 and refused["Content-Type"] == "application/json"
    assert (
        ok(client_for(regulator).get(f"{API}/agreements/{agreement['id']}/"))["status"] == "active"
    )


def test_agreement_bad_input(client_for, dealer_user, dealer_stock, other_dealer_user):
    client = client_for(dealer_user)
    party = services.responsible_party_create(
        actor=dealer_user, dealer=dealer_user.dealer_admin.dealer, name="P"
    )
    backwards = client.post(
        f"{API}/agreements/",
        {
            "party": party.pk,
            "starts_on": "2026-12-31",
            "ends_on": "2026-01-01",
            "ranges": [
                {"msisdn_from": dealer_stock[0].msisdn, "msisdn_to": dealer_stock[0].msisdn}
            ],
        },
    )
    assert backwards.status_code == 400
    assert backwards.json() == {"ends_on": ["The agreement cannot end before it starts."]}
    theirs = client_for(other_dealer_user).post(
        f"{API}/agreements/",
        {
            "party": party.pk,
            "starts_on": "2026-01-01",
            "ends_on": "2026-02-01",
            "ranges": [{"msisdn_from": "081300000001", "msisdn_to": "081300000001"}],
        },
    )
    assert theirs.status_code == 400 and theirs.json() == {"party": ["Unknown party."]}
    agreement = services.agreement_create(
        actor=dealer_user, dealer=party.dealer, party=party, starts_on=date(2026, 1, 1),
        ends_on=date(2026, 2, 1), ranges=[__import__("outlets.stockfiles").stockfiles.parse_range(dealer_stock[0].msisdn, dealer_stock[0].msisdn)],
    )  # fmt: skip
    not_a_document = client.post(
        f"{API}/agreements/{agreement.pk}/document/",
        {"document": SimpleUploadedFile("x.html", b"<html></html>")},
        format="multipart",
    )
    assert (
        not_a_document.status_code == 400
        and "must be a PDF or a photo" in not_a_document.json()["document"][0]
    )
    assert TransferAgreement.objects.get().status == "draft"
    assert client_for(other_dealer_user).get(f"{API}/agreements/{agreement.pk}/").status_code == 404


# --- training and dashboard ----------------------------------------------------------------------


def test_sessions_and_attendance(client_for, dealer_user, clerk, foreign_outlet, other_dealer_user):
    client = client_for(dealer_user)
    held = (timezone.localdate() - timedelta(days=1)).isoformat()
    session = ok(
        client.post(
            f"{API}/training-sessions/",
            {"held_on": held, "trainer": "R", "audience": "outlet", "topic": "Aturan"},
        ),
        201,
    )
    assert session["dealer"] == "AD0001"
    assert ok(
        client.post(f"{API}/training-sessions/{session['id']}/attendance/", {"users": ["clerk"]})
    ) == {"added": 1}
    assert ok(
        client.post(f"{API}/training-sessions/{session['id']}/attendance/", {"users": ["clerk"]})
    ) == {"added": 0}
    assert [
        a["username"]
        for a in ok(client.get(f"{API}/training-sessions/{session['id']}/attendance/"))
    ] == ["clerk"]
    unknown = client.post(
        f"{API}/training-sessions/{session['id']}/attendance/", {"users": ["ghost"]}
    )
    assert unknown.status_code == 400 and "ghost" in unknown.json()["users"][0]
    assert (
        client_for(other_dealer_user).get(f"{API}/training-sessions/{session['id']}/").status_code
        == 404
    )
    assert client_for(clerk).post(f"{API}/training-sessions/", {}).status_code == 403
    assert ok(client_for(clerk).get(f"{API}/training-sessions/"))["count"] == 1  # attended


def test_dashboard_rows_scope_sort_and_filters(
    client_for, dealer_user, clerk, operator, outlet, other_outlet, foreign_outlet, pack
):
    rows = ok(client_for(dealer_user).get(f"{API}/outlet-dashboard/", {"sort": "-stock_on_hand"}))[
        "results"
    ]
    assert [r["roid"] for r in rows] == [outlet.roid, other_outlet.roid]
    assert rows[0] == {
        "id": outlet.pk, "roid": outlet.roid, "name": outlet.name, "dealer": "AD0001",
        "region": outlet.region, "status": "active", "registrations": 0,
        "registrations_recent": 0, "open_clarifications": 0, "confirmed_violations": 0,
        "trained": False, "active_staff": 1, "stock_on_hand": 1,
    }  # fmt: skip
    assert [
        r["roid"] for r in ok(client_for(clerk).get(f"{API}/outlet-dashboard/"))["results"]
    ] == [outlet.roid]
    theirs = ok(client_for(operator).get(f"{API}/outlet-dashboard/", {"dealer": "AD0999"}))[
        "results"
    ]
    assert [r["roid"] for r in theirs] == [foreign_outlet.roid]
    assert (
        client_for(dealer_user).get(f"{API}/outlet-dashboard/", {"sort": "password"}).status_code
        == 400
    )
    untrained = ok(client_for(dealer_user).get(f"{API}/outlet-dashboard/", {"trained": "false"}))
    assert untrained["count"] == 2


# --- anonymous and outsiders ---------------------------------------------------------------------

LISTS = [
    "outlet-dashboard",
    "outlet-applications",
    "outlet-staff",
    "stock-allocations",
    "stock-moves",
    "responsible-parties",
    "agreements",
    "training-sessions",
]


@pytest.mark.parametrize("resource", LISTS)
def test_anonymous_gets_401(client_for, resource):
    assert client_for().get(f"{API}/{resource}/").status_code == 401


@pytest.mark.parametrize("resource", LISTS)
def test_an_account_without_role_sees_nothing(client_for, outsider, resource, outlet, dealer_stock):
    assert ok(client_for(outsider).get(f"{API}/{resource}/"))["count"] == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("outlet-applications/", APPLICATION),
        ("outlet-staff/", {}),
        ("stock-allocations/to-dealer/", {}),
        ("stock-allocations/to-outlet/", {}),
        ("stock-allocations/to-dealer-stock/", {}),
        ("responsible-parties/", {"name": "x"}),
        ("agreements/", {}),
        ("training-sessions/", {}),
    ],
)
def test_an_account_without_role_may_write_nothing(client_for, outsider, path, body):
    assert client_for(outsider).post(f"{API}/{path}", body).status_code == 403


def test_another_dealers_objects_are_404(
    client_for, dealer_user, other_dealer_user, outlet, dealer_stock, clerk
):
    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=[PackLine(1, dealer_stock[0].msisdn)], source="x"
    )
    party = services.responsible_party_create(actor=dealer_user, dealer=outlet.dealer, name="Mine")
    client = client_for(other_dealer_user)
    for path in (
        f"outlets/{outlet.pk}/",
        f"outlet-staff/{clerk.outlet_staff.pk}/",
        f"stock-allocations/{allocation.pk}/",
        f"responsible-parties/{party.pk}/",
    ):
        assert client.get(f"{API}/{path}").status_code == 404, path
    assert ok(client.get(f"{API}/stock-moves/", {"allocation": allocation.pk}))["count"] == 0
    foreign_to_outlet = client.post(
        f"{API}/stock-allocations/to-outlet/",
        {"outlet": outlet.pk, "msisdns": [dealer_stock[1].msisdn]},
    )
    assert foreign_to_outlet.status_code == 400 and foreign_to_outlet.json() == {
        "outlet": ["Unknown outlet."]
    }
    assert Outlet.objects.get(pk=outlet.pk).starter_packs.count() == 1


def test_ids_beyond_64_bits_are_a_400_not_a_500(client_for, dealer_user, outlet):
    huge = 2**70
    client = client_for(dealer_user)
    assert client.get(f"{API}/outlet-staff/", {"outlet": huge}).status_code == 400
    assert client.get(f"{API}/stock-moves/", {"allocation": huge}).status_code == 400
    response = client.post(
        f"{API}/stock-allocations/to-outlet/", {"outlet": huge, "msisdns": ["081300000001"]}
    )
    assert response.status_code == 400 and "outlet" in response.json()
