"""Access-control matrix (docs/security.md, "Access control").

Every URL pattern of the portal (web pages and API, walked from the URL conf) has a rule here:
for each persona, the status a GET must answer. A new endpoint without a rule fails
``test_every_url_has_a_rule``, naming it. Objects in URLs belong to ``clerk``'s outlet, so
``clerk2`` (another outlet of the same dealer) must not see them.
"""

from datetime import date, timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import buyer_data, photo_upload
from tests.workflow.conftest import answered_item

ROLES = ("anon", "clerk", "clerk2", "dealer", "grapari", "regulator", "operator")
FIXTURE = {
    "clerk": "clerk",
    "clerk2": "clerk2",
    "dealer": "dealer_user",
    "grapari": "grapari",
    "regulator": "regulator",
    "operator": "operator",
}
EXCLUDED_PREFIXES = ("admin/", "i18n/", "jsi18n/", "static/")
EXCLUDED_NAMES = {"api-schema", "api-docs"}


def collect_patterns(patterns=None, prefix="", namespace=""):
    """(route, namespaced name) of every pattern, recursively."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from collect_patterns(entry.url_patterns, route, ns)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name}" if entry.name else None


def collected() -> dict[str, str]:
    found = {}
    for route, name in collect_patterns():
        if route.startswith(EXCLUDED_PREFIXES) or name in EXCLUDED_NAMES:
            continue
        found[name or f"<unnamed {route}>"] = route
    return found


def build_world(request) -> dict:
    """Objects of ``clerk``'s outlet (and its dealer) that the URLs with arguments point to."""
    from compliance.models import ReconciliationRun, Sanction
    from outlets.models import (
        OutletApplication,
        OutletStaff,
        ResponsibleParty,
        StockAllocation,
        TrainingSession,
        TransferAgreement,
    )
    from privacy.models import DataSubjectRequest, PrivacyJob
    from reports import services as report_services
    from subscribers.services import registration_create

    get = request.getfixturevalue
    clerk, dealer_user, pack = get("clerk"), get("dealer_user"), get("pack")
    get("clerk2")
    outlet = pack.outlet
    dealer = outlet.dealer
    capture = get("django_capture_on_commit_callbacks")
    with capture(execute=True):
        registration = registration_create(
            clerk=clerk, data=buyer_data(pack), id_photo=photo_upload(), face_photo=photo_upload()
        )
    item = answered_item(registration, clerk, photo=photo_upload("evidence.jpg"))
    clarification = item.clarification
    answer = clarification.answers.first()
    discrepancy = clarification.items.first().discrepancy
    run = ReconciliationRun.objects.create(mode="full", trigger="web", active_slot="active")
    sanction = Sanction.objects.create(
        outlet=outlet,
        level="warning",
        reason="test",
        violations_counted=1,
        window_days=30,
        created_at=timezone.now(),
    )
    with capture(execute=True):
        export = report_services.export_job_create(
            user=dealer_user,
            kind="registrations",
            format="csv",
            data={
                "date_from": (date.today() - timedelta(days=7)).isoformat(),
                "date_to": date.today().isoformat(),
            },
            trigger="web",
        )
    application = OutletApplication.objects.create(
        dealer=dealer,
        name="Konter Baru",
        owner_name="Budi",
        address="Jl. Mawar 1",
        region="Bandung",
        province="32",
    )
    allocation = StockAllocation.objects.create(
        kind="to_outlet",
        dealer=dealer,
        outlet=outlet,
        actor=dealer_user,
        actor_label="dealer",
        pack_count=1,
        source="dealer stock",
    )
    party = ResponsibleParty.objects.create(dealer=dealer, name="Toko Sub-reseller")
    agreement = TransferAgreement.objects.create(
        dealer=dealer,
        party=party,
        starts_on=date(2020, 1, 1),
        ends_on=date(2099, 1, 1),
        status="active",
        document="agreements/x.pdf",
    )
    training = TrainingSession.objects.create(
        held_on=date.today(), trainer="Tono", audience="outlet", topic="KYC", dealer=dealer
    )
    subject_request = DataSubjectRequest.objects.create(
        id_number_masked="3171********0101", id_number_digest="x" * 64, channel="letter"
    )
    job = PrivacyJob.objects.create(kind="retention_purge", trigger="web", status="failed")
    return {
        "registration": registration.pk,
        "outlet": outlet.pk,
        "staff": OutletStaff.objects.get(user=clerk).pk,
        "run": run.pk,
        "discrepancy": discrepancy.pk,
        "clarification": clarification.pk,
        "answer": answer.pk,
        "review_item": item.pk,
        "sanction": sanction.pk,
        "export": export.pk,
        "application": application.pk,
        "allocation": allocation.pk,
        "party": party.pk,
        "agreement": agreement.pk,
        "training": training.pk,
        "subject_request": subject_request.pk,
        "privacy_job": job.pk,
    }


# Which object fills ``pk`` (and the other arguments) of each URL with arguments.
ARGUMENTS = {
    "subscribers:detail": lambda w: {"pk": w["registration"]},
    "subscribers:reveal": lambda w: {"pk": w["registration"]},
    "subscribers:receipt": lambda w: {"pk": w["registration"]},
    "subscribers:receipt_pdf": lambda w: {"pk": w["registration"]},
    "subscribers:photo": lambda w: {"pk": w["registration"], "kind": "id_photo"},
    "compliance:run": lambda w: {"pk": w["run"]},
    "compliance:discrepancy": lambda w: {"pk": w["discrepancy"]},
    "compliance:clarification": lambda w: {"pk": w["clarification"]},
    "compliance:evidence": lambda w: {"pk": w["clarification"], "answer_pk": w["answer"]},
    "compliance:review_item": lambda w: {"pk": w["review_item"]},
    "compliance:registration_history": lambda w: {"pk": w["registration"]},
    "compliance:outlet": lambda w: {"pk": w["outlet"]},
    "outlets:detail": lambda w: {"pk": w["outlet"]},
    "outlets:application_detail": lambda w: {"pk": w["application"]},
    "outlets:allocation_detail": lambda w: {"pk": w["allocation"]},
    "outlets:agreement_detail": lambda w: {"pk": w["agreement"]},
    "outlets:agreement_document": lambda w: {"pk": w["agreement"]},
    "outlets:training_detail": lambda w: {"pk": w["training"]},
    "outlets:staff_invitation": lambda w: {"pk": w["staff"]},
    "privacy:request": lambda w: {"pk": w["subject_request"]},
    "privacy:export": lambda w: {"pk": w["subject_request"]},
    "reports:export": lambda w: {"pk": w["export"]},
    "reports:export_download": lambda w: {"pk": w["export"]},
    "risk:outlet": lambda w: {"roid": _roid(w["outlet"])},
    "risk:records": lambda w: {"roid": _roid(w["outlet"]), "signal": "odd_hours"},
    "outlet-detail": lambda w: {"pk": w["outlet"]},
    "outlet-application-detail": lambda w: {"pk": w["application"]},
    "outlet-staff-detail": lambda w: {"pk": w["staff"]},
    "stock-allocation-detail": lambda w: {"pk": w["allocation"]},
    "responsible-party-detail": lambda w: {"pk": w["party"]},
    "agreement-detail": lambda w: {"pk": w["agreement"]},
    "agreement-document": lambda w: {"pk": w["agreement"]},
    "training-session-detail": lambda w: {"pk": w["training"]},
    "training-session-attendance": lambda w: {"pk": w["training"]},
    "registration-detail": lambda w: {"pk": w["registration"]},
    "reconciliation-run-detail": lambda w: {"pk": w["run"]},
    "discrepancy-detail": lambda w: {"pk": w["discrepancy"]},
    "clarification-detail": lambda w: {"pk": w["clarification"]},
    "clarification-evidence": lambda w: {"pk": w["clarification"], "answer_id": w["answer"]},
    "review-item-detail": lambda w: {"pk": w["review_item"]},
    "sanction-detail": lambda w: {"pk": w["sanction"]},
    "export-job-detail": lambda w: {"pk": w["export"]},
    "export-job-download": lambda w: {"pk": w["export"]},
}


def _roid(outlet_pk: int) -> str:
    from outlets.models import Outlet

    return Outlet.objects.get(pk=outlet_pk).roid


def url_for(name: str, world: dict) -> str | None:
    kwargs = ARGUMENTS[name](world) if name in ARGUMENTS else {}
    try:
        return reverse(name, kwargs=kwargs)
    except Exception:
        return None


# --- the rules ---------------------------------------------------------------------------------
# Per role, in the order of ROLES: the status (or set of equivalent statuses) a GET answers.
# Web pages send the anonymous visitor to the login page (302); the API answers 401.
DENIED = frozenset({403, 404})  # refused or hidden: equivalent for the matrix
OK, WEB_ANON, API_ANON = 200, 302, 401
MISSING_FILE = frozenset({200, 404})  # the stored file of the test object is not on disk

_ALL_LOGGED_IN = (OK, OK, OK, OK, OK, OK)
_OWN_OUTLET = (OK, 404, OK, OK, OK, OK)  # clerk's object: clerk2 must not see it
_BACK_OFFICE = (DENIED, DENIED, DENIED, OK, OK, OK)  # GraPARI, regulator, operator
_REPORT_READERS = (403, 403, OK, OK, OK, OK)  # not outlet staff
_DEALER_ONLY_OBJECT = (404, 404, OK, OK, OK, OK)  # dealer-level object: no clerk sees it


def web(*logged_in):
    return dict(zip(ROLES, (WEB_ANON, *logged_in), strict=True))


def api(*logged_in):
    return dict(zip(ROLES, (API_ANON, *logged_in), strict=True))


RULES: dict[str, dict[str, int | frozenset]] = {
    # --- public / shell
    "healthz": dict.fromkeys(ROLES, OK),
    "readyz": dict.fromkeys(ROLES, OK),
    "login": {"anon": OK, **dict.fromkeys(ROLES[1:], 302)},
    "home": web(*_ALL_LOGGED_IN),
    # --- registrations (web)
    "subscribers:list": web(*_ALL_LOGGED_IN),
    "subscribers:new": web(OK, OK, 403, 403, 403, 403),
    "subscribers:detail": web(*_OWN_OUTLET),
    "subscribers:receipt": web(*_OWN_OUTLET),
    "subscribers:receipt_pdf": web(*_OWN_OUTLET),
    # A regulator sees no photos (subscribers.views.registration_photo).
    "subscribers:photo": web(OK, 404, OK, OK, DENIED, OK),
    # Rule-set drafts and their previews: operator admins only (tests/subscribers/test_rule_drafts.py).
    "subscribers:rule_sets": web(403, 403, 403, 403, 403, OK),
    # --- the holder's door: public pages, every role sees the same form
    "holders:start": dict.fromkeys(ROLES, OK),
    "holders:statement_check": dict.fromkeys(ROLES, OK),
    # --- registrations (API)
    "registration-list": api(*_ALL_LOGGED_IN),
    "registration-detail": api(*_OWN_OUTLET),
    # --- compliance (web)
    "compliance:runs": web(*_BACK_OFFICE),
    "compliance:run": web(*_BACK_OFFICE),
    "compliance:discrepancies": web(*_ALL_LOGGED_IN),
    "compliance:discrepancy": web(*_OWN_OUTLET),
    "compliance:inbox": web(*_ALL_LOGGED_IN),
    "compliance:clarification": web(*_OWN_OUTLET),
    # Evidence photos: the answering outlet and the reviewers; never the regulator.
    "compliance:evidence": web(OK, 404, DENIED, OK, DENIED, OK),
    "compliance:review_queue": web(*_BACK_OFFICE),
    "compliance:review_item": web(*_BACK_OFFICE),
    "compliance:registration_history": web(*_OWN_OUTLET),
    "compliance:outlet": web(*_OWN_OUTLET),
    "compliance:notifications": web(*_ALL_LOGGED_IN),
    # --- compliance (API)
    "reconciliation-run-list": api(*_BACK_OFFICE),
    "reconciliation-run-detail": api(*_BACK_OFFICE),
    "discrepancy-list": api(*_ALL_LOGGED_IN),
    "discrepancy-detail": api(*_OWN_OUTLET),
    "clarification-list": api(*_ALL_LOGGED_IN),
    "clarification-detail": api(*_OWN_OUTLET),
    "clarification-evidence": api(OK, 404, DENIED, OK, DENIED, OK),
    "review-item-list": api(*_BACK_OFFICE),
    "review-item-detail": api(*_BACK_OFFICE),
    "sanction-list": api(*_ALL_LOGGED_IN),
    "sanction-detail": api(*_OWN_OUTLET),
    "notification-list": api(*_ALL_LOGGED_IN),
    # --- outlets (web)
    "outlets:index": web(302, 302, 302, 302, 302, 302),
    "outlets:dashboard": web(*_ALL_LOGGED_IN),
    "outlets:dashboard_csv": web(*_ALL_LOGGED_IN),
    "outlets:detail": web(*_OWN_OUTLET),
    "outlets:applications": web(403, 403, OK, 403, 403, OK),
    "outlets:application_new": web(403, 403, OK, 403, 403, 403),
    "outlets:application_detail": web(404, 404, OK, DENIED, DENIED, OK),
    "outlets:stock": web(*_ALL_LOGGED_IN),
    "outlets:stock_to_dealer": web(403, 403, 403, 403, 403, OK),
    "outlets:stock_to_outlet": web(403, 403, OK, 403, 403, OK),
    "outlets:allocation_detail": web(*_OWN_OUTLET),
    "outlets:agreements": web(403, 403, OK, OK, OK, OK),
    "outlets:agreement_new": web(403, 403, OK, 403, 403, 403),
    "outlets:agreement_detail": web(*_DEALER_ONLY_OBJECT),
    # The signed document: the dealer and the operator's staff, not the regulator.
    "outlets:agreement_document": web(404, 404, MISSING_FILE, MISSING_FILE, DENIED, MISSING_FILE),
    "outlets:training": web(*_ALL_LOGGED_IN),
    "outlets:training_new": web(403, 403, OK, 403, 403, OK),
    "outlets:training_detail": web(*_DEALER_ONLY_OBJECT),
    # --- outlets (API)
    "outlet-list": api(*_ALL_LOGGED_IN),
    "outlet-detail": api(*_OWN_OUTLET),
    "outlet-dashboard-list": api(*_ALL_LOGGED_IN),
    # --- API tokens: each sees their own (the operator every account's)
    "api-token-list": api(*_ALL_LOGGED_IN),
    "outlet-application-list": api(*_ALL_LOGGED_IN),
    "outlet-application-detail": api(404, 404, OK, DENIED, DENIED, OK),
    "starter-pack-list": api(*_ALL_LOGGED_IN),
    "outlet-staff-list": api(*_ALL_LOGGED_IN),
    "outlet-staff-detail": api(OK, 404, OK, OK, DENIED, OK),
    "stock-allocation-list": api(*_ALL_LOGGED_IN),
    "stock-allocation-detail": api(*_OWN_OUTLET),
    "stock-move-list": api(*_ALL_LOGGED_IN),
    "responsible-party-list": api(*_ALL_LOGGED_IN),
    "responsible-party-detail": api(*_DEALER_ONLY_OBJECT),
    "agreement-list": api(*_ALL_LOGGED_IN),
    "agreement-detail": api(*_DEALER_ONLY_OBJECT),
    "agreement-document": api(404, 404, MISSING_FILE, MISSING_FILE, DENIED, MISSING_FILE),
    "training-session-list": api(*_ALL_LOGGED_IN),
    "training-session-detail": api(*_DEALER_ONLY_OBJECT),
    "training-session-attendance": api(*_DEALER_ONLY_OBJECT),
    # --- privacy: the operator's admins only
    "privacy:index": web(403, 403, 403, 403, 403, OK),
    "privacy:request": web(DENIED, DENIED, DENIED, DENIED, DENIED, OK),
    "privacy:jobs": web(403, 403, 403, 403, 403, OK),
    # --- reports: not outlet staff; an export job is its requester's (the dealer's here)
    "reports:dashboard": web(*_REPORT_READERS),
    "reports:registrations_rows": web(*_REPORT_READERS),
    "reports:discrepancies_rows": web(*_REPORT_READERS),
    "reports:exports": web(*_REPORT_READERS),
    "reports:export": web(DENIED, DENIED, OK, 404, 404, 404),
    "reports:export_download": web(DENIED, DENIED, OK, 404, 404, 404),
    "reports:verify": web(*_REPORT_READERS),
    # --- risk signals: the report readers; a dealer's outlets only (its own outlet here)
    "risk:outlets": web(*_REPORT_READERS),
    "risk:outlet": web(*_REPORT_READERS),
    "risk:records": web(*_REPORT_READERS),
    "export-job-list": api(*_REPORT_READERS),
    "export-job-figures": api(*_REPORT_READERS),
    "export-job-detail": api(DENIED, DENIED, OK, 404, 404, 404),
    "export-job-download": api(DENIED, DENIED, OK, 404, 404, 404),
}

_POST = "POST-only (answers 405 to GET); covered by its own view tests"
NOT_GET_CHECKED: dict[str, str] = {
    "holder-disputes": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holder-numbers": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holder-session-start": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holder-session-verify": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:answer": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:code": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:dispute": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:dispute_review": "GraPARI's page of a holder's dispute (a review item of the holder's door): tests/holders/test_disputes.py",
    "holders:end": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:face": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:keep": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:numbers": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "holders:statement": "the holder's door: its own verified session (SMS code), not the portal's roles — tests/holders",
    "subscribers:rule_draft": "a draft rule set or its preview, operator admins only: tests/subscribers/test_rule_drafts.py",
    "subscribers:rule_preview": "a draft rule set or its preview, operator admins only: tests/subscribers/test_rule_drafts.py",
    "subscribers:rule_preview_new": "a draft rule set or its preview, operator admins only: tests/subscribers/test_rule_drafts.py",
    "subscribers:rule_preview_samples": "a draft rule set or its preview, operator admins only: tests/subscribers/test_rule_drafts.py",
    "subscribers:rule_publish": "a draft rule set or its preview, operator admins only: tests/subscribers/test_rule_drafts.py",
    "subscribers:rule_set_copy": "a draft rule set or its preview, operator admins only: tests/subscribers/test_rule_drafts.py",
    "logout": _POST,
    "api-token": _POST,
    "api-token-detail": "DELETE-only (revokes a token; answers 405 to GET): tests/api/test_api_tokens.py",
    "subscribers:validate": _POST,
    "subscribers:reveal": _POST + " (tests/subscribers)",
    "subscribers:receipt_shared": "signed receipt token: the token is the credential",
    "subscribers:receipt_shared_pdf": "signed receipt token: the token is the credential",
    "registration-validate": _POST,
    "registration-reveal-id-number": _POST,
    "compliance:review_bulk": _POST,
    "compliance:review_claim": _POST,
    "compliance:review_release": _POST,
    "compliance:review_decide": _POST,
    "compliance:sanction_lift": _POST,
    "review-item-bulk-decide": _POST,
    "review-item-claim": _POST,
    "review-item-decide": _POST,
    "review-item-release": _POST,
    "clarification-answer": _POST,
    "sanction-lift": _POST,
    "notification-mark-read": _POST,
    "outlets:notices_read": _POST,
    "outlets:status": _POST,
    "outlets:staff_invite": _POST,
    "outlets:stock_return": _POST,
    "outlets:staff_remove": _POST,
    "outlets:staff_invitation": _POST,
    "outlets:invitation": "uidb64 + token invitation link: the token is the credential",
    "outlet-reinstate": _POST,
    "outlet-revoke": _POST,
    "outlet-suspend": _POST,
    "outlet-application-approve": _POST,
    "outlet-application-reject": _POST,
    "outlet-staff-invitation": _POST,
    "outlet-staff-remove": _POST,
    "stock-allocation-to-dealer": _POST,
    "stock-allocation-to-dealer-stock": _POST,
    "stock-allocation-to-outlet": _POST,
    "privacy:export": _POST,
    "privacy:action": _POST,
    "privacy:decide": _POST + " (tests/privacy/test_ambiguous_pages.py)",
    "privacy:job_resume": _POST,
    "reports:refresh": _POST,
}


def test_every_url_has_a_rule():
    names = collected()
    missing = sorted(
        f"{name} ({route})"
        for name, route in names.items()
        if name not in RULES and name not in NOT_GET_CHECKED
    )
    assert not missing, (
        "URL patterns without an access rule: add each to RULES (expected GET status per role) "
        "or to NOT_GET_CHECKED (with a reason) in tests/ops/test_access_matrix.py:\n  "
        + "\n  ".join(missing)
    )
    stale = sorted((set(RULES) | set(NOT_GET_CHECKED)) - set(names))
    assert not stale, f"rules for URL names that no longer exist: {stale}"
    assert not set(RULES) & set(NOT_GET_CHECKED)
    assert all(reason.strip() for reason in NOT_GET_CHECKED.values())
    assert all(set(rule) == set(ROLES) for rule in RULES.values())


def _client(role, request):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if role != "anon":
        client.force_login(request.getfixturevalue(FIXTURE[role]))
    return client


@pytest.mark.django_db
def test_access_matrix(request):
    """GET every ruled URL as every persona; report every mismatch at once."""
    world = build_world(request)
    clients = {role: _client(role, request) for role in ROLES}
    names = collected()
    mismatches = []
    for name, rule in RULES.items():
        if name not in names:
            continue  # test_every_url_has_a_rule reports it
        url = url_for(name, world)
        assert url, f"cannot build the URL of {name}: add its arguments to ARGUMENTS"
        for role in ROLES:
            expected = rule[role]
            allowed = expected if isinstance(expected, frozenset) else {expected}
            got = clients[role].get(url).status_code
            if got not in allowed:
                mismatches.append(
                    f"{role:9} GET {url} ({name}): expected {sorted(allowed)}, got {got}"
                )
    assert not mismatches, f"{len(mismatches)} access mismatches:\n  " + "\n  ".join(mismatches)
