from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Regulator reporting: figures defined once, summary tables, dashboard, exports."""

    name = "reports"
    verbose_name = _("Reports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from privacy.hooks import register_export_file_eraser

        from .services import export_files_holding_erase

        # An erased person's data must not live on in export files already written.
        register_export_file_eraser(export_files_holding_erase)
