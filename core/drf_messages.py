"""Django REST framework's messages its own Indonesian catalogue leaves in English.

DRF ships an Indonesian translation of about a third of its messages; the rest ("Must be a
valid boolean.", "Not a valid string.", "Invalid data. Expected a dictionary, but got list."…)
reached a clerk's point-of-sale app in English. Listed here so that ``makemessages`` puts them
in the project's catalogue (``locale/id``), whose translations Django merges with DRF's: the
same msgid, so DRF's own code picks the translation up. Nothing calls this module.
"""

from django.utils.translation import gettext_noop, ngettext

MESSAGES = (
    gettext_noop("A valid number is required."),
    gettext_noop("Datetime value out of range."),
    gettext_noop("Ensure this field has at least {min_length} elements."),
    gettext_noop("Ensure this field has no more than {max_length} elements."),
    gettext_noop("Expected a date but got a datetime."),
    gettext_noop("Expected a datetime but got a date."),
    gettext_noop('Expected a list of items but got type "{input_type}".'),
    gettext_noop("Incorrect type. Expected pk value, received {data_type}."),
    gettext_noop("Invalid data. Expected a dictionary, but got {datatype}."),
    gettext_noop('Invalid datetime for the timezone "{timezone}".'),
    gettext_noop("Invalid input."),
    gettext_noop("Invalid page."),
    gettext_noop("Invalid cursor"),
    gettext_noop("Invalid token header. No credentials provided."),
    gettext_noop("Invalid token header. Token string should not contain invalid characters."),
    gettext_noop("Invalid token header. Token string should not contain spaces."),
    gettext_noop("Invalid token."),
    gettext_noop("Invalid value."),
    gettext_noop("Malformed request."),
    gettext_noop('Method "{method}" not allowed.'),
    gettext_noop("Must be a valid UUID."),
    gettext_noop("Must be a valid boolean."),
    gettext_noop("No filename could be determined."),
    gettext_noop("Not a valid string."),
    gettext_noop("Object with {slug_name}={value} does not exist."),
    gettext_noop("String value too large."),
    gettext_noop("Surrogate characters are not allowed: U+{code_point:X}."),
    gettext_noop("The fields {field_names} must make a unique set."),
    gettext_noop("The submitted data was not a file. Check the encoding type on the form."),
    gettext_noop("This dictionary may not be empty."),
    gettext_noop("This field must be unique."),
    gettext_noop("This list may not be empty."),
    gettext_noop("This value does not match the required pattern."),
    gettext_noop(
        "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
    ),
    gettext_noop('"{input}" is not a valid path choice.'),
    gettext_noop("A page number within the paginated result set."),
    gettext_noop("Number of results to return per page."),
    gettext_noop("The initial index from which to return the results."),
    gettext_noop("The pagination cursor value."),
    gettext_noop("A search term."),
    gettext_noop("Which field to use when ordering the results."),
)


def _plurals() -> None:  # pragma: no cover - for makemessages only
    ngettext("Expected available in {wait} second.", "Expected available in {wait} seconds.", 1)
