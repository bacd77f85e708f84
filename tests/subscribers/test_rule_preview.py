"""The preview of a draft rule set: set-based over the registrations with the rulebook's
predicates compiled to SQL, agreeing with the same rulebook evaluated in Python on each
registration (the full re-judgement). Elsewhere than on PostgreSQL the preview takes its
portable path (in Python, a page at a time); the tests holding the statement to Python need
PostgreSQL, the others run on either path."""

import pytest

from subscribers import drafts, preview, rulebook
from subscribers.models import CapExceptions, CitizenProof, RegistrationPolicy, RulePreview

from .preview_data import PERIOD, history, in_period

pytestmark = pytest.mark.django_db


@pytest.fixture
def past(policies):
    return history(policies)


def _draft(operator, code="2026-07", **changes) -> RegistrationPolicy:
    draft = drafts.draft_create(actor=operator, source=RegistrationPolicy.objects.get(code=code))
    for name, value in changes.items():
        setattr(draft, name, value)
    draft.save()
    return draft


VARIANTS = [
    {},
    {"max_numbers_per_id": 2},
    {"max_numbers_per_id": 1, "cap_exceptions": CapExceptions.NOBODY},
    {"cap_exceptions": CapExceptions.OPERATOR_OUTLETS},
    {"declared_purpose_above": 4},
    {"declared_purpose_above": None},
    {"citizen_proof": CitizenProof.NIK_KK},
    {"citizen_proof": CitizenProof.NIK_KK_OR_FACE},
    {"signed_statement_required": True, "original_documents_required": True},
    {"staff_own_id_forbidden": False},
    {"citizen_id_types": ["ktp"], "foreigner_id_types": ["passport"]},
    {"citizen_id_types": [], "foreigner_id_types": [], "accepted_id_types": ["ktp", "passport"]},
    {"max_numbers_per_id": None},
]


@pytest.mark.postgres
@pytest.mark.parametrize("changes", VARIANTS, ids=lambda c: ",".join(c) or "same")
def test_sql_and_python_judge_every_registration_alike(require_postgres, past, operator, changes):
    """The one rulebook, compiled to SQL over the period and evaluated in Python on each
    registration, gives each registration the same decisions — under its own rule set and
    under the draft."""
    draft = _draft(operator, **changes)
    masks = preview.judge_registrations(draft, *PERIOD)
    registrations = list(in_period().select_related("outlet", "policy"))
    assert set(masks) == {r.pk for r in registrations}
    for registration in registrations:
        baseline = preview.mask_of(preview.rejudge(registration, registration.policy))
        proposed = preview.mask_of(preview.rejudge(registration, draft))
        assert masks[registration.pk] == (baseline, proposed), registration.registration_number


@pytest.mark.postgres
@pytest.mark.parametrize("code", ["2014", "2015", "2017", "2018-05", "2018-11", "2026"])
def test_every_seeded_rule_set_as_a_draft_agrees_too(require_postgres, past, operator, code):
    draft = _draft(operator, code=code)
    masks = preview.judge_registrations(draft, *PERIOD)
    for registration in in_period().select_related("outlet"):
        assert masks[registration.pk][1] == preview.mask_of(preview.rejudge(registration, draft))


def test_the_history_exercises_every_decision(past, operator):
    """The data above is worth its name: each decision holds for some registration under some
    variant (a rule the data never triggers would agree vacuously)."""
    seen = set()
    for changes in VARIANTS:
        draft = _draft(operator, **changes)
        for _baseline, proposed in preview.judge_registrations(draft, *PERIOD).values():
            seen |= {code for code in preview.CODES if proposed & preview.BIT[code]}
    assert seen == set(rulebook.DECISIONS)


def _run(operator, draft) -> RulePreview:
    result = drafts.preview_request(
        actor=operator, draft=draft, period_from=PERIOD[0], period_to=PERIOD[1]
    )
    result.refresh_from_db()
    assert result.status == RulePreview.Status.DONE
    return result


def test_a_lower_cap_shows_exactly_what_a_full_rejudgement_refuses(past, operator):
    draft = _draft(operator, max_numbers_per_id=2)
    result = _run(operator, draft)
    rejudged = {
        r.pk: (preview.rejudge(r, r.policy), preview.rejudge(r, draft))
        for r in in_period().select_related("outlet", "policy")
    }
    newly_refused = {pk for pk, (b, d) in rejudged.items() if d["over_cap"] and not b["over_cap"]}
    newly_permitted = {
        pk
        for pk, (b, d) in rejudged.items()
        if d["over_cap_permitted"] and not b["over_cap_permitted"]
    }
    assert newly_refused  # the lower cap does refuse some
    figures = result.result["totals"]["decisions"]
    assert figures["over_cap"]["new"] == len(newly_refused)
    assert figures["over_cap_permitted"]["new"] == len(newly_permitted)
    masks = preview.judge_registrations(draft, *PERIOD)
    shown = {
        pk
        for pk, (b, d) in masks.items()
        if d & preview.BIT["over_cap"] and not b & preview.BIT["over_cap"]
    }
    assert shown == newly_refused
    assert set(result.result["samples"]["over_cap:new"]) <= newly_refused
    changed = sum(1 for b, d in rejudged.values() if b != d)
    assert result.result["totals"]["changed"] == changed
    assert result.rows == len(rejudged)


def test_a_draft_equal_to_the_rules_in_force_changes_nothing(past, operator):
    result = _run(operator, _draft(operator))
    totals = result.result["totals"]
    assert totals["rows"] == in_period().count() > 0
    assert totals["changed"] == 0
    assert totals["outcome_changes"] == {} and totals["cap_changes"] == {}
    assert all(f["new"] == f["gone"] == 0 for f in totals["decisions"].values())
    assert result.result["samples"] == {}
    # ... while the rules in force do refuse and flag some of this history.
    assert totals["outcomes"]["refused"]["before"] > 0
    assert totals["outcomes"]["flagged"]["before"] > 0


def test_figures_by_outlet_dealer_and_province_add_up(past, operator):
    result = _run(operator, _draft(operator, cap_exceptions=CapExceptions.NOBODY))
    groups, totals = result.result["groups"], result.result["totals"]
    for dimension in ("outlet", "dealer", "province"):
        assert sum(e["rows"] for e in groups[dimension]) == totals["rows"]
        assert sum(e["changed"] for e in groups[dimension]) == totals["changed"]
    by_province = {e["key"]: e for e in groups["province"]}
    # Beyond the cap only at the operator's own outlet until now: its registrations change.
    assert by_province["31"]["after_refused"] > by_province["31"]["before_refused"]
    assert totals["cap_changes"]["permitted>refused"] > 0


def test_chunks_give_the_same_figures_as_one_statement(past, operator, monkeypatch):
    draft = _draft(operator, max_numbers_per_id=2, declared_purpose_above=4)
    whole = _run(operator, draft).result
    monkeypatch.setattr(preview, "ROWS_PER_CHUNK", 3)
    chunked = _run(operator, draft)
    assert chunked.chunks_total > 4 and chunked.chunks_done == chunked.chunks_total
    assert chunked.result["totals"] == whole["totals"]
    assert chunked.result["groups"] == whole["groups"]


def test_a_long_period_runs_as_a_job_with_progress(
    past, operator, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(preview, "SYNC_LIMIT", 0)
    monkeypatch.setattr(preview, "ROWS_PER_CHUNK", 10)
    draft = _draft(operator, max_numbers_per_id=2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        queued = drafts.preview_request(
            actor=operator, draft=draft, period_from=PERIOD[0], period_to=PERIOD[1]
        )
    assert queued.status == RulePreview.Status.QUEUED and len(callbacks) == 1
    callbacks[0]()  # the broker hands it to a worker (eager in tests)
    queued.refresh_from_db()
    assert queued.status == RulePreview.Status.DONE
    assert queued.chunks_done == queued.chunks_total > 1


def test_the_preview_writes_nothing_but_its_own_row(past, operator, django_assert_max_num_queries):
    from django.db import connection

    draft = _draft(operator, max_numbers_per_id=1, citizen_proof=CitizenProof.NIK_KK)
    before = [(r.pk, r.status, r.updated_at, r.review_reasons) for r in in_period()]
    with connection.execute_wrapper(_refuse_writes_but_previews_and_audit):
        _run(operator, draft)
    assert [(r.pk, r.status, r.updated_at, r.review_reasons) for r in in_period()] == before


def _refuse_writes_but_previews_and_audit(execute, sql, params, many, context):
    statement = sql.lstrip().split(None, 1)[0].upper()
    if statement in ("INSERT", "UPDATE", "DELETE"):
        allowed = ("subscribers_rulepreview", "compliance_auditevent")
        assert any(f'"{table}"' in sql for table in allowed), sql[:200]
    return execute(sql, params, many, context)


@pytest.mark.postgres
@pytest.mark.parametrize("changes", VARIANTS[:7], ids=lambda c: ",".join(c) or "same")
def test_the_figures_count_what_the_full_rejudgement_decides(
    require_postgres, past, operator, changes
):
    """The grouped statement (facts packed, grouped before the decisions) counts, decision by
    decision, what judging every registration in Python decides."""
    draft = _draft(operator, **changes)
    figures = _run(operator, draft).result["totals"]["decisions"]
    expected = {code: {"before": 0, "after": 0} for code in preview.CODES}
    for registration in in_period().select_related("outlet", "policy"):
        before = preview.rejudge(registration, registration.policy)
        after = preview.rejudge(registration, draft)
        for code in preview.CODES:
            expected[code]["before"] += before[code]
            expected[code]["after"] += after[code]
    assert {
        code: {"before": f["before"], "after": f["after"]} for code, f in figures.items()
    } == expected


@pytest.mark.postgres
def test_the_portable_path_stores_the_same_preview_as_the_statement(
    require_postgres, past, operator, settings, monkeypatch
):
    """The preview computed in Python, a page at a time (as on SQLite), gives each
    registration the masks the statement gives it, and stores the same figures, groups and
    samples — pages and NIK look-ups smaller than the history, so a NIK's registrations fall in
    several pages."""
    drafts_ = [_draft(operator, **changes) for changes in VARIANTS]
    masks = [preview.judge_registrations(draft, *PERIOD) for draft in drafts_]
    previewed = [_run(operator, draft) for draft in drafts_[1:4]]
    settings.RULE_PREVIEW_ENGINE = "python"
    monkeypatch.setattr(preview, "PAGE", 7)
    monkeypatch.setattr(preview, "NIKS_PER_QUERY", 3)
    assert not preview.set_based()
    assert [preview.judge_registrations(draft, *PERIOD) for draft in drafts_] == masks
    for by_statement in previewed:
        portable = _run(operator, by_statement.draft)
        assert portable.result == by_statement.result
        assert (portable.rows, portable.chunks_total) == (by_statement.rows, 1)


def test_the_preview_page_names_the_provinces(past, operator, client):
    result = _run(operator, _draft(operator, cap_exceptions=CapExceptions.NOBODY))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "id"
    client.force_login(operator)

    html = client.get(f"/registrations/rules/previews/{result.pk}/").content.decode()

    province_table = html[html.index("<h2>Per provinsi</h2>") :]
    assert '<th scope="row">31 <span class="small muted">DKI Jakarta</span></th>' in province_table
