"""The dealer's pages doing their work: applications, staff, stock, agreements, training, and
the dashboard (sorting, scope, CSV)."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from core.masking import display_msisdn
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
from subscribers import services as registration_services
from tests.conftest import buyer_data
from tests.factories import StarterPackFactory

from .test_agreements import MINIMAL_PDF
from .test_outlets_services import APPLICATION

pytestmark = pytest.mark.django_db


def csv_file(text: str, name: str = "packs.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_apply_then_approve_through_the_pages(web_for, dealer_user, operator):
    response = web_for(dealer_user).post(reverse("outlets:application_new"), APPLICATION)
    application = OutletApplication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("outlets:application_detail", args=[application.pk])

    web = web_for(operator)
    page = web.get(reverse("outlets:application_detail", args=[application.pk]))
    assert b'id="approve"' in page.content
    url = reverse("outlets:application_detail", args=[application.pk])
    # The first step only shows what approving creates: the ROID it will get, the outlet.
    summary = web.post(url, {"decision": "approve", "reason": ""})
    html = summary.content.decode()
    assert 'id="roid-preview">RO33000001<' in html and APPLICATION["name"] in html
    assert "Jawa Tengah" in html
    assert not Outlet.objects.exists()
    application.refresh_from_db()
    assert application.status == "pending"

    response = web.post(url, {"decision": "approve", "reason": "", "confirmed": "1"}, follow=True)

    assert escape("The outlet's ROID is RO33000001") in response.content.decode()
    assert Outlet.objects.get(roid="RO33000001").dealer == dealer_user.dealer_admin.dealer


def test_a_rejection_without_reason_shows_the_error(web_for, dealer_user, operator):
    application = services.outlet_application_submit(actor=dealer_user, **APPLICATION)

    response = web_for(operator).post(
        reverse("outlets:application_detail", args=[application.pk]),
        {"decision": "reject", "reason": ""},
    )

    assert response.status_code == 200
    assert "Say why the application is rejected." in response.content.decode()
    application.refresh_from_db()
    assert application.status == "pending"


def test_an_empty_application_keeps_the_input_and_names_the_fields(web_for, dealer_user):
    response = web_for(dealer_user).post(
        reverse("outlets:application_new"), {**APPLICATION, "name": "", "province": "99"}
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "province"}
    assert 'value="Sri Wahyuni"' in response.content.decode()
    assert not OutletApplication.objects.exists()


def test_suspend_through_the_page_then_the_dealer_sees_the_notice(
    web_for, operator, dealer_user, outlet
):
    response = web_for(operator).post(
        reverse("outlets:status", args=[outlet.pk]),
        {"action": "suspend", "reason": "Data palsu"},
    )
    assert response.status_code == 302
    outlet.refresh_from_db()
    assert outlet.status == "suspended"

    page = web_for(dealer_user).get(reverse("outlets:dashboard")).content.decode()
    assert "Outlet suspended" in page and "Data palsu" in page


# --- staff ---------------------------------------------------------------------------------------


def test_invite_shows_the_link_once_and_the_clerk_sets_a_password(
    web_for, dealer_user, outlet, client
):
    nik = make_nik(birth_date=date(1993, 2, 1), sex="M", serial=5)
    response = web_for(dealer_user).post(
        reverse("outlets:staff_invite", args=[outlet.pk]),
        {
            "full_name": "Andi Wijaya",
            "username": "andi",
            "id_number": nik,
            "kk_number": make_kk(recorded=date(2014, 1, 2), serial=3),
            "email": "andi@example.org",
        },
    )
    assert response.status_code == 200
    assert (
        response["Cache-Control"].startswith("private") or "no-store" in response["Cache-Control"]
    )
    link = response.context["link"]
    assert link.startswith("http://testserver/outlets/invitation/")
    assert nik not in response.content.decode()

    client.logout()
    page = client.get(link)
    assert page.status_code == 200 and "andi" in page.content.decode()
    done = client.post(
        link, {"new_password1": "Kartu-Perdana-77", "new_password2": "Kartu-Perdana-77"}
    )
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/").status_code == 200  # logged in
    assert client.get(link).status_code == 404  # used


def test_a_wrong_invitation_link_is_explained(client):
    response = client.get("/outlets/invitation/MQ/abc-def/")
    assert response.status_code == 404
    assert b"invitation link does not work" in response.content.lower()


def test_removing_a_clerk_through_the_page(web_for, dealer_user, clerk):
    membership = clerk.outlet_staff
    url = reverse("outlets:staff_remove", args=[membership.pk])

    assert "Remove" in web_for(dealer_user).get(url).content.decode()
    response = web_for(dealer_user).post(url, {"reason": "Keluar"})

    assert response.status_code == 302
    assert not OutletStaff.objects.get(pk=membership.pk).is_active
    assert web_for(clerk).get("/registrations/new/").status_code == 302  # logged out: inactive


# --- stock ---------------------------------------------------------------------------------------


def test_operator_uploads_a_csv_for_a_dealer(web_for, operator, dealer_org):
    text = "msisdn,iccid\n" + "".join(f"08130000{n:04d},{make_iccid(n)}\n" for n in range(1, 4))
    response = web_for(operator).post(
        reverse("outlets:stock_to_dealer"), {"dealer": "AD0001", "file": csv_file(text)}
    )

    allocation = StockAllocation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("outlets:allocation_detail", args=[allocation.pk])
    assert allocation.source == "file packs.csv" and allocation.pack_count == 3
    assert StarterPack.objects.filter(dealer=dealer_org, outlet=None).count() == 3


def test_bad_csv_rows_and_duplicates_are_shown_by_line_and_nothing_is_written(
    web_for, operator, dealer_org
):
    text = "msisdn,iccid\n081300000001,\n0215550123,\n081300000001,\n081300000004,123\n"

    response = web_for(operator).post(
        reverse("outlets:stock_to_dealer"), {"dealer": "AD0001", "file": csv_file(text)}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "Line 3: “0215550123” is not an Indonesian mobile number.",
        "Line 4: 6281300000001 is already on line 2.",
        "Line 5: An ICCID has 18 to 20 digits and starts with 89. (123)",
    ]
    assert not StarterPack.objects.exists() and not StockAllocation.objects.exists()


def test_one_way_of_listing_packs(web_for, operator, dealer_org):
    response = web_for(operator).post(
        reverse("outlets:stock_to_dealer"),
        {
            "dealer": "AD0001",
            "file": csv_file("msisdn\n081300000001\n"),
            "msisdn_from": "081300000001",
            "msisdn_to": "081300000002",
        },
    )
    assert "Give the packs one way" in response.content.decode()
    response = web_for(operator).post(
        reverse("outlets:stock_to_dealer"), {"dealer": "AD0001", "msisdn_from": "081300000001"}
    )
    assert response.context["form"].errors["msisdn_to"] == ["Give the last number of the range."]
    assert not StarterPack.objects.exists()


def test_dealer_allocates_typed_numbers_and_sees_refusals_by_line(
    web_for, dealer_user, outlet, dealer_stock, another_dealers_pack
):
    url = reverse("outlets:stock_to_outlet")
    bad = web_for(dealer_user).post(
        url,
        {
            "outlet": outlet.pk,
            "msisdns": f"{dealer_stock[0].msisdn}\n{another_dealers_pack.msisdn}",
        },
    )
    assert bad.context["form"].errors["msisdns"] == [
        f"Line 2: {another_dealers_pack.msisdn} is not in your dealer's stock."
    ]
    assert not StarterPack.objects.filter(outlet=outlet).exists()

    good = web_for(dealer_user).post(
        url,
        {
            "outlet": outlet.pk,
            "msisdn_from": "0" + dealer_stock[0].msisdn[2:],
            "msisdn_to": dealer_stock[2].msisdn,
        },
    )
    assert good.status_code == 302
    assert StarterPack.objects.filter(outlet=outlet).count() == 3


def test_the_dealer_only_picks_its_own_live_outlets(
    web_for, dealer_user, operator, outlet, other_outlet, foreign_outlet
):
    services.outlet_revoke(actor=operator, outlet=other_outlet, reason="x")
    form = web_for(dealer_user).get(reverse("outlets:stock_to_outlet")).context["form"]
    assert list(form.fields["outlet"].queryset) == [outlet]
    response = web_for(dealer_user).post(
        reverse("outlets:stock_to_outlet"), {"outlet": foreign_outlet.pk, "msisdns": "081300000001"}
    )
    assert "outlet" in response.context["form"].errors


def test_an_empty_return_form_takes_nothing_back(web_for, dealer_user, outlet, pack):
    url = reverse("outlets:stock_return", args=[outlet.pk])
    for data in ({}, {"msisdns": ""}, {"which": "list", "msisdns": ""}):
        response = web_for(dealer_user).post(url, data)
        assert response.status_code == 200
        assert response.context["form"].errors
    pack.refresh_from_db()
    assert pack.outlet == outlet
    assert not StockAllocation.objects.filter(kind=StockAllocation.Kind.TO_DEALER_STOCK).exists()


def test_take_everything_back_after_a_confirmation_stating_the_count(web_for, dealer_user, outlet):
    packs = StarterPackFactory.create_batch(3, outlet=outlet)
    url = reverse("outlets:stock_return", args=[outlet.pk])

    asked = web_for(dealer_user).post(url, {"which": "all"})

    # Nothing moved yet: a page states the count and asks.
    assert asked.status_code == 200
    html = asked.content.decode()
    assert 'data-count="3"' in html and "All 3 starter packs" in html and outlet.roid in html
    assert all(StarterPack.objects.get(pk=p.pk).outlet == outlet for p in packs)
    # A confirmation of another count (the stock changed meanwhile) asks again.
    StarterPackFactory(outlet=outlet)
    again = web_for(dealer_user).post(url, {"which": "all", "confirm_count": "3"})
    assert 'data-count="4"' in again.content.decode()

    done = web_for(dealer_user).post(url, {"which": "all", "confirm_count": "4"})

    assert done.status_code == 302
    assert not StarterPack.objects.filter(outlet=outlet).exists()
    assert StockAllocation.objects.get(kind=StockAllocation.Kind.TO_DEALER_STOCK).pack_count == 4


def test_take_listed_packs_back(web_for, dealer_user, outlet):
    kept, taken = StarterPackFactory.create_batch(2, outlet=outlet)
    response = web_for(dealer_user).post(
        reverse("outlets:stock_return", args=[outlet.pk]),
        {"which": "list", "msisdns": taken.msisdn},
    )
    assert response.status_code == 302
    assert StarterPack.objects.get(pk=kept.pk).outlet == outlet
    assert StarterPack.objects.get(pk=taken.pk).outlet is None


def test_allocation_page_lists_who_when_from_to(web_for, dealer_user, outlet, dealer_stock):
    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=[PackLine(1, dealer_stock[0].msisdn)], source="list"
    )
    page = web_for(dealer_user).get(reverse("outlets:allocation_detail", args=[allocation.pk]))
    html = page.content.decode()
    assert display_msisdn(dealer_stock[0].msisdn) in html  # 0813-0000-0001, as read aloud
    assert "AD0001" in html and outlet.roid in html
    assert "dealer" in html  # the actor


# --- agreements ----------------------------------------------------------------------------------


def test_record_an_agreement_with_a_new_party_and_its_document(
    web_for, dealer_user, dealer_stock, regulator
):
    data = {
        "party": "",
        "party_name": "CV Mitra Jaya",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "ranges": f"{dealer_stock[0].msisdn}, {dealer_stock[2].msisdn}",
        "document": SimpleUploadedFile("pks.pdf", MINIMAL_PDF, content_type="application/pdf"),
    }
    response = web_for(dealer_user).post(reverse("outlets:agreement_new"), data)

    agreement = TransferAgreement.objects.get()
    assert response.status_code == 302
    assert (agreement.party.name, agreement.status, agreement.pack_count) == (
        "CV Mitra Jaya",
        "active",
        3,
    )
    document = web_for(dealer_user).get(reverse("outlets:agreement_document", args=[agreement.pk]))
    assert document["Content-Type"] == "application/pdf"
    assert b"".join(document.streaming_content).startswith(b"%PDF-")
    assert "no-store" in document["Cache-Control"]
    regulator_page = web_for(regulator).get(
        reverse("outlets:agreement_detail", args=[agreement.pk])
    )
    assert 'id="agreement-document"' not in regulator_page.content.decode()


def test_agreement_form_errors_end_before_start_and_not_a_document(
    web_for, dealer_user, dealer_stock
):
    data = {
        "party_name": "CV Mitra",
        "starts_on": "2026-12-31",
        "ends_on": "2026-01-01",
        "ranges": dealer_stock[0].msisdn,
        "document": SimpleUploadedFile("pks.txt", b"just text", content_type="text/plain"),
    }
    response = web_for(dealer_user).post(reverse("outlets:agreement_new"), data)

    errors = response.context["form"].errors
    assert errors["ends_on"] == ["The agreement cannot end before it starts."]
    assert "must be a PDF or a photo" in errors["document"][0]
    assert not TransferAgreement.objects.exists()
    assert not dealer_user.dealer_admin.dealer.parties.exists()  # the new party is not kept


# --- training ------------------------------------------------------------------------------------


def test_record_a_session_and_attendance(web_for, dealer_user, clerk, clerk2, outlet):
    yesterday = timezone.localdate() - timedelta(days=1)
    response = web_for(dealer_user).post(
        reverse("outlets:training_new"),
        {
            "held_on": yesterday.isoformat(),
            "topic": "Aturan 2026",
            "trainer": "Ratna",
            "audience": "outlet",
        },
    )
    assert response.status_code == 302
    detail = response["Location"]
    page = web_for(dealer_user).get(detail)
    assert set(dict(page.context["form"].fields["users"].choices)) >= {
        str(clerk.pk),
        str(clerk2.pk),
    }

    web_for(dealer_user).post(detail, {"users": [str(clerk.pk)]})

    dashboard = web_for(dealer_user).get(reverse("outlets:dashboard"), {"trained": "no"})
    assert [o.roid for o in dashboard.context["page"]] == ["ROJKT000002"]
    assert dashboard.context["untrained_count"] == 1


# --- dashboard -----------------------------------------------------------------------------------


@pytest.fixture
def busy_outlets(clerk, clerk2, outlet, other_outlet, photos, foreign_outlet):
    """ROJKT000002 has two registrations and more stock; ROJKT000001 one registration."""
    from tests.conftest import photo_upload

    for owner, clerk_user, serial in (
        (outlet, clerk, 1),
        (other_outlet, clerk2, 2),
        (other_outlet, clerk2, 3),
    ):
        pack = StarterPackFactory(outlet=owner)
        registration_services.registration_create(
            clerk=clerk_user,
            data=buyer_data(
                pack, id_number=make_nik(birth_date=date(1990, 8, 17), sex="F", serial=serial)
            ),
            id_photo=photo_upload(),
            face_photo=photo_upload(),
        )
    StarterPackFactory.create_batch(3, outlet=other_outlet)
    StarterPackFactory(outlet=outlet)


def test_dashboard_sorts_and_stays_in_the_dealers_scope(web_for, dealer_user, busy_outlets):
    page = web_for(dealer_user).get(reverse("outlets:dashboard"), {"sort": "-registrations"})

    rows = [
        (o.roid, o.registration_count, o.stock_on_hand, o.trained) for o in page.context["page"]
    ]
    assert rows == [("ROJKT000002", 2, 3, False), ("ROJKT000001", 1, 1, False)]
    assert "ROSBY000001" not in page.content.decode()
    ascending = web_for(dealer_user).get(reverse("outlets:dashboard"), {"sort": "stock_on_hand"})
    assert [o.roid for o in ascending.context["page"]] == ["ROJKT000001", "ROJKT000002"]
    nonsense = web_for(dealer_user).get(reverse("outlets:dashboard"), {"sort": "password"})
    assert nonsense.status_code == 200


def test_clerk_sees_only_their_outlet_and_the_operator_filters_by_dealer(
    web_for, clerk, operator, busy_outlets
):
    assert [o.roid for o in web_for(clerk).get(reverse("outlets:dashboard")).context["page"]] == [
        "ROJKT000001"
    ]
    everything = web_for(operator).get(reverse("outlets:dashboard"))
    assert everything.context["page"].paginator.count == 3
    theirs = web_for(operator).get(reverse("outlets:dashboard"), {"dealer": "AD0999"})
    assert [o.roid for o in theirs.context["page"]] == ["ROSBY000001"]


def test_dashboard_csv_is_streamed_with_the_same_scope_and_order(
    web_for, dealer_user, busy_outlets, outlet
):
    Outlet.objects.filter(pk=outlet.pk).update(name="=HYPERLINK(1)")
    response = web_for(dealer_user).get(
        reverse("outlets:dashboard_csv"), {"sort": "-registrations"}
    )

    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["roid"] for r in rows] == ["ROJKT000002", "ROJKT000001"]
    assert rows[0]["registrations"] == "2" and rows[0]["stock_on_hand"] == "3"
    assert rows[0]["trained"] == "no" and rows[0]["status"] == "active"
    assert rows[0]["open_clarifications"] == "0" and rows[0]["confirmed_violations"] == "0"
    assert rows[1]["name"] == "'=HYPERLINK(1)"  # no formula for the spreadsheet
    assert list(rows[0]) == [
        "roid", "name", "dealer", "region", "status", "registrations", "registrations_recent",
        "open_clarifications", "confirmed_violations", "trained", "active_staff", "stock_on_hand",
        "risk_signals",
    ]  # fmt: skip


def test_the_operator_names_the_outlet_by_roid(web_for, operator, outlet, dealer_stock):
    url = reverse("outlets:stock_to_outlet")
    page = web_for(operator).get(url, {"outlet": outlet.pk})
    assert page.context["form"]["outlet"].value() == outlet.roid

    response = web_for(operator).post(
        url, {"outlet": outlet.roid, "msisdns": dealer_stock[0].msisdn}
    )

    assert response.status_code == 302
    assert StarterPack.objects.get(pk=dealer_stock[0].pk).outlet == outlet
    unknown = web_for(operator).post(
        url, {"outlet": "RO99999999", "msisdns": dealer_stock[1].msisdn}
    )
    assert "outlet" in unknown.context["form"].errors


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("list", "A list of numbers"),
        ("all", "Every pack the outlet held"),
        ("file stock.csv", "File stock.csv"),
        ("range 6281300000001–6281300000009", "Numbers 0813-0000-0001 to 0813-0000-0009"),
    ],
)
def test_an_allocation_says_where_its_list_came_from_in_words(
    web_for, dealer_user, outlet, dealer_stock, source, shown
):
    allocation = services.stock_allocate_to_outlet(
        actor=dealer_user, outlet=outlet, lines=[PackLine(1, dealer_stock[0].msisdn)], source=source
    )
    page = web_for(dealer_user).get(reverse("outlets:allocation_detail", args=[allocation.pk]))
    assert escape(shown) in page.content.decode()
