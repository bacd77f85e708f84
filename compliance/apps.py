from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        from outlets.selectors.dashboard import register_outlet_figures
        from subscribers.hooks import register_refused_handler

        from .reconciliation.handover import register_handover
        from .workflow.intake import discrepancies_opened
        from .workflow.queue import unknown_to_operator_opened
        from .workflow.refusals import registrations_refused
        from .workflow.selectors import outlet_compliance_annotations

        register_outlet_figures("compliance", outlet_compliance_annotations)
        # A finishing run's new findings become clarification requests (handover.py).
        register_handover(discrepancies_opened)
        # ... and those unknown to the operator reach the review queue in the same transaction.
        register_handover(unknown_to_operator_opened)
        # A registration the population registry refused after the fact: reviewed, outlet told.
        register_refused_handler(registrations_refused)
