"""Template filters of the report pages."""

from django import template

from ..charts import percent as percent_text

register = template.Library()


@register.filter
def percent(value) -> str:
    """A share (0.125) as a percentage ("12,5 %" in Indonesian)."""
    return percent_text(value)
