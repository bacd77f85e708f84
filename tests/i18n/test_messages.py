"""Errors of forms and services reach an Indonesian reader in Indonesian."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_export_form_answers_a_too_long_period_in_indonesian(client, regulator):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(regulator)

    response = client.post(
        "/reports/exports/",
        {"kind": "registrations", "format": "csv", "date_from": "2020-01-01",
         "date_to": "2026-01-01", "grouping": "province"},
    )  # fmt: skip

    html = response.content.decode()
    assert "Satu periode paling lama 1463 hari" in html
    assert "A period is at most" not in html


def test_the_report_filter_answers_a_reversed_period_in_indonesian(client, regulator):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(regulator)

    html = client.get("/reports/?date_from=2026-02-01&date_to=2026-01-01").content.decode()

    assert "Akhir periode lebih awal dari awalnya." in html


@pytest.mark.parametrize(
    ("accept", "cookie", "lang"),
    [
        ("", "", "id"),  # nothing said: Indonesian, the product's default
        ("fr-FR,fr", "", "id"),  # a language the portal does not offer
        ("en-US,en", "", "en"),  # the browser's preference, when the reader chose nothing
        ("en-US,en", "id", "id"),  # the switch in the header wins over the browser
        ("id-ID", "en", "en"),
    ],
)
def test_which_language_wins(client, accept, cookie, lang):
    if cookie:
        client.cookies["django_language"] = cookie
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}

    html = client.get("/accounts/login/", **headers).content.decode()

    assert f'<html lang="{lang}"' in html
