"""Usernames people cannot confuse: after NFKC (``ｇｒａｐａｒｉ`` is ``grapari``) only Latin
letters, digits and ``. @ + - _``. A Cyrillic ``а`` or a Latin alpha ``ɑ`` in ``grаpari`` would
make an account that looks like another on every page and in the audit trail; one script
rules that out entirely (docs/security.md, "Input cleaning"). Names people display keep any
script (``first_name``, ``last_name``)."""

from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _


@deconstructible
class UsernameValidator(RegexValidator):
    regex = r"^[A-Za-z0-9.@+_-]+\Z"
    flags = 0
    message = _(
        "Use Latin letters (a–z), digits and @ . + - _ only: letters of other alphabets that "
        "look like them are refused."
    )
    code = "invalid_username"
