"""The rule-set tables of docs/rules.md and README.md follow from the published rule sets."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from subscribers import drafts, ruletables
from subscribers.selectors import policy_in_force

pytestmark = pytest.mark.django_db


def test_the_committed_documents_equal_what_the_rule_sets_render(policies):
    for path, (current, rendered) in ruletables.rendered_documents().items():
        assert current == rendered, f"{path.name} is stale: run manage.py render_rule_tables"
    call_command("render_rule_tables", "--check")


def test_a_published_rule_set_changes_the_tables_a_draft_does_not(policies, operator):
    draft = drafts.draft_create(actor=operator, source=policy_in_force())
    draft.max_numbers_per_id = 2
    draft.save()
    unchanged = ruletables.rendered_documents()
    assert all(current == rendered for current, rendered in unchanged.values())
    drafts.draft_publish(
        actor=operator, draft=draft, effective_from=timezone.localdate() + timedelta(days=3)
    )
    for _path, (current, rendered) in ruletables.rendered_documents().items():
        assert current != rendered and f"{draft.code}" in rendered
    with pytest.raises(CommandError):
        call_command("render_rule_tables", "--check")
