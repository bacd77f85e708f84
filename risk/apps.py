from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskConfig(AppConfig):
    """Explained outlet risk signals: defined once, refreshed set-based, shown where the dealer,
    the regulator and GraPARI look (through the hooks of the layers below)."""

    name = "risk"
    verbose_name = _("Risk signals")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import wiring

        wiring.register()
