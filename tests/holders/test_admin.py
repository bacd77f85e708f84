"""The door's records in the admin: read-only, numbers masked, sessions and codes never shown."""

import pytest
from django.urls import NoReverseMatch, reverse

from core.masking import mask_msisdn
from holders.models import (
    HolderDispute,
    HolderSession,
    OperatorNotice,
    SmsMessage,
    StoredSms,
)

from .conftest import last_code, log_in, make_person

pytestmark = pytest.mark.django_db

SHOWN = ["holderdispute", "holderkeepchoice", "operatornotice", "holderstatement", "smsmessage"]


def test_the_admin_shows_the_doors_records_masked_and_changes_nothing(
    holder_api, outlet, operator, client
):
    person = make_person(outlet, numbers=3)
    log_in(holder_api, person)
    disputed = person.msisdns[1]
    answer = holder_api.post(
        "/api/v1/holder/disputes/", {"msisdn": disputed, "note": "Bukan nomor saya."}, format="json"
    )
    assert answer.status_code == 201, answer.content
    dispute = HolderDispute.objects.get()
    OperatorNotice.objects.create(action="block", msisdn=disputed, reason="holder dispute")
    session = HolderSession.objects.get()
    code = last_code(person.msisdns[0])
    client.force_login(operator)
    pages = [reverse(f"admin:holders_{name}_changelist") for name in SHOWN]
    pages += [
        reverse("admin:holders_holderdispute_change", args=[dispute.pk]),
        reverse("admin:holders_operatornotice_change", args=[OperatorNotice.objects.get().pk]),
        reverse("admin:holders_smsmessage_change", args=[SmsMessage.objects.first().pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for number in person.msisdns:
            assert number not in html and number[2:] not in html, url
        for secret in (person.nik, person.kk, session.code_hash, dispute.answer_token_hash):
            assert secret not in html, url
        assert f"kode Anda {code}" not in html
    dispute_page = client.get(pages[len(SHOWN)]).content.decode()
    assert mask_msisdn(disputed) in dispute_page and "Bukan nomor saya." in dispute_page
    # Read-only: no add, no change, no delete.
    change = reverse("admin:holders_holderdispute_change", args=[dispute.pk])
    assert client.post(change, {"status": "reversed"}).status_code == 403
    dispute.refresh_from_db()
    assert dispute.status == "notice"
    assert client.get(reverse("admin:holders_holderdispute_add")).status_code == 403
    delete = reverse("admin:holders_holderdispute_delete", args=[dispute.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert HolderDispute.objects.filter(pk=dispute.pk).exists()
    # Sessions (hashed codes and tokens) and the SMS texts have no admin page at all.
    for model in (HolderSession, StoredSms):
        with pytest.raises(NoReverseMatch):
            reverse(f"admin:holders_{model._meta.model_name}_changelist")


def test_people_without_admin_access_are_kept_out(clerk, regulator, client):
    for user in (clerk, regulator):
        client.force_login(user)
        response = client.get(reverse("admin:holders_holderdispute_changelist"))
        assert response.status_code == 302 and "/login/" in response["Location"]
