from django.apps import AppConfig
from django.db.models.signals import post_migrate
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
        # A deploy whose code counts the figures differently: rebuild the summaries now.
        post_migrate.connect(rebuild_outdated_summaries, sender=self)


def rebuild_outdated_summaries(**kwargs) -> None:
    """After ``migrate``: when the summary tables were built under another definition of the
    figures than the code now deployed (``summary.DEFINITION_VERSION``), queue a refresh — it
    rebuilds them in full — rather than wait for the next scheduled one. A broker that is down
    is logged, never fails the migration; the periodic refresh rebuilds them anyway."""
    from django.db import DatabaseError

    from .summary import definition_outdated
    from .tasks import request_refresh

    try:
        outdated = definition_outdated()
    except DatabaseError:  # the tables are not there (yet): nothing built, nothing outdated
        return
    if outdated:
        request_refresh()
