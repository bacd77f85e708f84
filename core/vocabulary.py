"""Every code the portal stores has one label per language, from one place per vocabulary.

A vocabulary is a ``TextChoices`` declared where its codes are stored (the discrepancy kinds in
``compliance.models``, the ID types in ``subscribers.models``, the audit actions in
``core.audit`` …); the module declaring it registers it here under a name, so pages, PDFs,
XLSX files and the CSV headers meant for people ask ``label(name, code)`` and never print a
code. ``core`` imports no app: the registry is filled when the apps' models load (before the
first request). An unknown code is shown as it is rather than hidden (a row written before a
code was renamed must still be readable) and ``label`` reports it through ``unknown``.

``{% load labels %}{{ value|label:"discrepancy_kind" }}`` does the same in a template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.db.models import Choices

_VOCABULARIES: dict[str, type[Choices] | Mapping[str, str]] = {}


def register(name: str, choices):
    """Declare ``choices`` (a ``TextChoices`` class, or a mapping of code to label for a
    vocabulary kept as data, such as the provinces) as the vocabulary ``name`` (once; a
    second, different one raises)."""
    existing = _VOCABULARIES.get(name)
    if existing is not None and existing is not choices:
        raise ValueError(f"vocabulary {name!r} is already {existing.__qualname__}")
    _VOCABULARIES[name] = choices
    return choices


def vocabulary(name: str):
    try:
        return _VOCABULARIES[name]
    except KeyError:
        raise LookupError(f"no vocabulary named {name!r}") from None


def names() -> list[str]:
    return sorted(_VOCABULARIES)


def codes(name: str) -> list[str]:
    choices = vocabulary(name)
    return list(choices) if isinstance(choices, Mapping) else list(choices.values)


def is_known(name: str, code) -> bool:
    return code in codes(name)


def label(name: str, code) -> str:
    """The label of ``code`` in ``name`` in the active language; the code itself if unknown,
    an empty string for no code (unless the vocabulary gives the empty code a label)."""
    choices = vocabulary(name)
    if code is None or (code == "" and code not in codes(name)):
        return ""
    if isinstance(choices, Mapping):
        return str(choices.get(code, code))
    try:
        return str(choices(code).label)
    except ValueError:
        return str(code)


def labels(name: str, codes: Iterable) -> str:
    """Several codes of one vocabulary as one phrase: ``"Name differs, Date of birth differs"``."""
    return ", ".join(label(name, code) for code in codes if code)
