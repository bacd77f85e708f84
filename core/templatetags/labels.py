"""Labels and identifiers as people read them, in templates.

``{{ d.kind|label:"discrepancy_kind" }}`` (``core.vocabulary``), ``{{ msisdn|phone }}``
(``0811-0000-1000``), ``{{ code|province }}`` (the province's name).
"""

from django import template

from core import vocabulary
from core.masking import display_msisdn

register = template.Library()


@register.filter
def label(code, name: str) -> str:
    if isinstance(code, (list, tuple)):
        return vocabulary.labels(name, code)
    return vocabulary.label(name, code)


@register.filter
def phone(msisdn) -> str:
    return display_msisdn(msisdn or "")


@register.filter
def province(code) -> str:
    return vocabulary.label("province", code)
