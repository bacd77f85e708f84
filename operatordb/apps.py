from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperatorDbConfig(AppConfig):
    """A mock of the operator's subscriber database and the population registry (systems we do
    not own), reached only through ``operatordb.adapter``."""

    name = "operatordb"
    verbose_name = _("Operator database (mock)")
