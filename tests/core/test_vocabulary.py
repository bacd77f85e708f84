"""Every code the portal stores has a label in both languages, from one vocabulary."""

import pytest
from django.apps import apps
from django.template import Context, Template
from django.utils import translation

from core import vocabulary
from core.masking import display_msisdn

PROJECT_APPS = {
    "core", "accounts", "operatordb", "outlets", "subscribers", "compliance", "privacy", "reports",
}  # fmt: skip
# Labels that read the same in Indonesian: names and acronyms (KITAS, API, the provinces' own
# names) and words Indonesian borrowed as they are.
SAME_IN_BOTH = {"KITAS", "KITAP", "API", "CSV", "PDF", "XLSX (Excel)"}


def test_every_coded_field_of_the_models_uses_a_registered_vocabulary():
    registered = [set(vocabulary.codes(name)) for name in vocabulary.names()]
    missing = []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        for field in model._meta.get_fields():
            choices = getattr(field, "choices", None)
            if not choices or getattr(field, "auto_created", False):
                continue
            codes = {str(code) for code, _label in field.flatchoices}
            if not any(codes <= vocabulary_codes for vocabulary_codes in registered):
                missing.append(f"{model._meta.label}.{field.name}")
    assert not missing, f"coded fields without a registered vocabulary: {missing}"


def test_every_code_has_a_label_in_english_and_in_indonesian():
    untranslated = []
    for name in vocabulary.names():
        if name == "province":  # proper names, the same in every language
            continue
        for code in vocabulary.codes(name):
            with translation.override("en"):
                english = vocabulary.label(name, code)
            with translation.override("id"):
                indonesian = vocabulary.label(name, code)
            assert english and english != code, (name, code)
            if indonesian == english and english not in SAME_IN_BOTH:
                untranslated.append(f"{name}:{code} {english!r}")
    assert not untranslated, untranslated


def test_a_label_is_read_in_the_active_language_and_an_unknown_code_is_shown_as_is():
    with translation.override("id"):
        assert vocabulary.label("discrepancy_kind", "name_mismatch") == "Nama berbeda"
        assert (
            vocabulary.labels("id_type", ["ktp", "passport"])
            == "KTP (Kartu Tanda Penduduk), Paspor"
        )
    with translation.override("en"):
        assert vocabulary.label("discrepancy_kind", "name_mismatch") == "Name differs"
    assert vocabulary.label("discrepancy_kind", "renamed_since") == "renamed_since"
    assert vocabulary.label("province", "32") == "Jawa Barat"
    with pytest.raises(LookupError):
        vocabulary.label("no_such_vocabulary", "x")


def test_templates_read_labels_phone_numbers_and_provinces():
    template = Template(
        '{% load labels %}{{ kind|label:"discrepancy_kind" }}|{{ kinds|label:"discrepancy_kind" }}'
        "|{{ msisdn|phone }}|{{ code|province }}"
    )
    with translation.override("en"):
        text = template.render(
            Context(
                {
                    "kind": "id_over_limit",
                    "kinds": ["name_mismatch", "birth_date_mismatch"],
                    "msisdn": "6281100001000",
                    "code": "31",
                }
            )
        )
    assert text == (
        "ID holds more numbers than allowed|Name differs, Date of birth differs"
        "|0811-0000-1000|DKI Jakarta"
    )


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("6281100001000", "0811-0000-1000"),
        ("62812345678901", "0812-3456-78901"),
        ("081234567890", "0812-3456-7890"),
        ("62811", "0811"),  # too short to group: as it is
        ("", ""),
    ],
)
def test_a_phone_number_is_shown_as_a_clerk_reads_it(stored, shown):
    assert display_msisdn(stored) == shown
