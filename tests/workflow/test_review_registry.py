"""GraPARI's review page shows what the population registry holds beside what the outlet
entered — name, birth date, sex, and whether the KK is the NIK's family card — so a reviewer
judges "the registry says X, the outlet entered Y"; each value as the viewer's role may see it
(the regulator: initials and the birth year); never to anyone outside the review queue."""

from datetime import date

import pytest
from django.utils import translation

from compliance.models import ReviewItem
from compliance.workflow.queue import review_queue_sync
from core import pii
from identity.idgen import make_kk

from .conftest import in_registry, make_registration

pytestmark = pytest.mark.django_db
FLAGGED = [{"code": "doubtful_document", "message": "KTP photo blurred"}]


@pytest.fixture
def flagged(outlet, clerk):
    """A flagged registration in the queue; Dukcapil records the buyer as "Siti Nurhayati",
    born 1990-08-17, female, on the registration's own family card."""
    registration = make_registration(outlet, clerk=clerk, review_reasons=FLAGGED)
    in_registry(registration, full_name="Siti Nurhayati")
    review_queue_sync()
    return ReviewItem.objects.get(registration=registration, kind="flagged_registration")


def _rows(page) -> dict[str, str]:
    """The registry table's rows as {field: agrees} read from the page."""
    html = page.content.decode()
    start = html.index('id="registry-sides"')
    table = html[start : html.index("</table>", start)]
    rows = {}
    for chunk in table.split("<tr data-field=")[1:]:
        field = chunk.split('"')[1]
        rows[field] = chunk.split('data-agrees="')[1].split('"')[0]
    return rows


def test_the_reviewer_sees_the_registrys_name_beside_the_one_entered(client, grapari, flagged):
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{flagged.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    section = html[html.index('id="registry-comparison"') :]
    assert "Siti Nurhayati" in section and "Siti Nur&#x27;aini" in section
    assert "1990-08-17" in section
    assert _rows(page) == {
        "full_name": "no",
        "birth_date": "yes",
        "sex": "yes",
        "kk_number": "yes",
    }


def test_a_family_card_the_registry_does_not_pair_reads_no(client, grapari, outlet, clerk):
    registration = make_registration(outlet, clerk=clerk, review_reasons=FLAGGED)
    in_registry(registration, kk_number=make_kk(recorded=date(2019, 1, 2), serial=777))
    review_queue_sync()
    item = ReviewItem.objects.get(registration=registration)
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{item.pk}/")

    assert _rows(page) == {"full_name": "yes", "birth_date": "yes", "sex": "yes", "kk_number": "no"}
    assert "not the NIK's family card" in page.content.decode()


def test_the_page_speaks_indonesian(client, grapari, flagged):
    client.force_login(grapari)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    with translation.override("id"):
        page = client.get(f"/compliance/review/{flagged.pk}/")

    assert "Data di Dukcapil" in page.content.decode()


def test_the_regulator_reads_the_registrys_values_masked(client, regulator, flagged):
    client.force_login(regulator)

    page = client.get(f"/compliance/review/{flagged.pk}/")

    assert page.status_code == 200
    html = page.content.decode()
    section = html[html.index('id="registry-comparison"') :]
    assert "Nurhayati" not in section and "Nur&#x27;aini" not in section
    assert "1990-**-**" in section and "1990-08-17" not in section
    assert _rows(page)["full_name"] == "no"


def test_outsiders_never_see_the_registrys_values(client, clerk, clerk2, dealer_user, flagged):
    for outsider in (clerk, clerk2, dealer_user):
        client.force_login(outsider)
        page = client.get(f"/compliance/review/{flagged.pk}/")
        assert page.status_code == 403, outsider  # the queue is not theirs
        assert b"Nurhayati" not in page.content and b"registry-comparison" not in page.content


def test_an_item_that_does_not_exist_is_a_404(client, grapari, flagged):
    client.force_login(grapari)
    assert client.get(f"/compliance/review/{flagged.pk + 1000}/").status_code == 404


def test_the_registry_down_leaves_the_page_working(client, grapari, flagged, settings):
    settings.POPULATION_REGISTRY_MOCK_FAULT = "down"
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{flagged.pk}/")

    assert page.status_code == 200
    assert b'id="registry-unavailable"' in page.content


def test_a_nik_the_registry_does_not_know_is_said_so(client, grapari, outlet, clerk):
    registration = make_registration(outlet, clerk=clerk, review_reasons=FLAGGED)
    review_queue_sync()
    item = ReviewItem.objects.get(registration=registration)
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{item.pk}/")

    assert b'id="registry-not-found"' in page.content


def test_a_foreign_buyers_item_has_no_registry_section(client, grapari, outlet, clerk):
    """A passport is not in the population registry: nothing to ask, the page as before."""
    registration = make_registration(
        outlet,
        clerk=clerk,
        review_reasons=FLAGGED,
        id_type="passport",
        nationality="MY",
        id_number_encrypted=pii.encrypt("A12345678"),
        id_number_digest=pii.digest("A12345678"),
        id_number_masked="A1*****78",
    )
    review_queue_sync()
    item = ReviewItem.objects.get(registration=registration)
    client.force_login(grapari)

    page = client.get(f"/compliance/review/{item.pk}/")

    assert page.status_code == 200
    assert b"registry-comparison" not in page.content
