"""Counts of the compliance workflow for the home pages, without touching their views:
``{% load compliance_workflow %}{% inbox_count as n %}``."""

from django import template

from ..workflow.selectors import inbox_count as _inbox_count
from ..workflow.selectors import review_open_count as _review_open_count
from ..workflow.selectors import unread_notifications_count

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_count(context) -> int:
    """Clarification requests waiting for the user's answer."""
    return _inbox_count(user=context["request"].user)


@register.simple_tag(takes_context=True)
def review_open_count(context) -> int:
    """Open items of the review queue (capped at 10 001)."""
    return _review_open_count(user=context["request"].user)


@register.simple_tag(takes_context=True)
def unread_notifications(context) -> int:
    return unread_notifications_count(user=context["request"].user)
