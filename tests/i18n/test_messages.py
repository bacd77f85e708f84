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
