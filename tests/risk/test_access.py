"""Who sees which outlets' signals: a dealer only its own (another's is a 404, as if it did
not exist), outlet staff nothing (403), the regulator, GraPARI and the operator every outlet."""

import pytest
from django.urls import reverse

from .conftest import params


def pages(outlet) -> list[str]:
    return [
        reverse("risk:outlets"),
        reverse("risk:outlet", args=[outlet.roid]),
        reverse("risk:records", args=[outlet.roid, "odd_hours"]),
    ]


@pytest.mark.django_db
def test_outlet_staff_get_403_and_strangers_the_login(planted, clerk, client):
    for url in pages(planted.burst):
        assert client.get(url).status_code == 302
    client.force_login(clerk)
    for url in pages(planted.burst):
        assert client.get(url, params()).status_code == 403


@pytest.mark.django_db
def test_a_dealer_sees_only_its_outlets(planted, dealer_user, other_dealer_user, client):
    client.force_login(dealer_user)
    listing = client.get(reverse("risk:outlets"), params())
    assert listing.context["outlets"] == 7  # its seven outlets, not the other dealer's
    assert planted.foreign.roid not in listing.content.decode()
    for url in pages(planted.foreign)[1:]:
        assert client.get(url, params()).status_code == 404
    records = client.get(pages(planted.burst)[2], params())
    assert records.status_code == 200
    line = records.context["lines"][0]
    assert "*" in line.msisdn  # masked for the dealer

    client.force_login(other_dealer_user)
    theirs = client.get(reverse("risk:outlets"), params())
    assert theirs.context["ranked"] == [] and theirs.context["outlets"] == 1
    for url in pages(planted.burst)[1:]:
        assert client.get(url, params()).status_code == 404


@pytest.mark.django_db
def test_every_outlet_for_the_regulator_and_an_unknown_signal_is_404(planted, regulator, client):
    client.force_login(regulator)
    assert client.get(reverse("risk:outlets"), params()).context["outlets"] == 8
    page = client.get(reverse("risk:outlet", args=[planted.pre.roid]), params())
    assert page.status_code == 200 and page.context["risk"].rank is not None
    unknown = reverse("risk:records", args=[planted.pre.roid, "astrology"])
    assert client.get(unknown, params()).status_code == 404
    assert client.get(reverse("risk:outlet", args=["RONOWHERE"])).status_code == 404


@pytest.mark.django_db
def test_a_bad_period_is_shown_at_its_field(planted, regulator, client):
    client.force_login(regulator)
    page = client.get(reverse("risk:outlets"), {"date_from": "yesterday"})
    assert page.status_code == 200
    assert "date_from" in page.context["form"].errors


@pytest.mark.django_db
def test_grapari_reads_the_whole_number_as_people_write_it(planted, grapari, client):
    from core.masking import display_msisdn
    from subscribers.models import Registration

    client.force_login(grapari)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"

    records = client.get(pages(planted.burst)[2], params())

    line = records.context["lines"][0]
    stored = Registration.objects.get(pk=line.pk).msisdn  # 62…
    html = records.content.decode()
    assert f'<td class="mono">{display_msisdn(stored)}</td>' in html  # 0857-0000-0478
    assert stored not in html
