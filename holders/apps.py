from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HoldersConfig(AppConfig):
    name = "holders"
    verbose_name = _("The holder's door")

    def ready(self) -> None:
        from compliance.workflow.hooks import register_decision_handler

        from .services import holder_dispute_review_decided

        # GraPARI's decision on a review item settles the disputes about the number.
        register_decision_handler(holder_dispute_review_decided)
