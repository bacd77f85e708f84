from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        from outlets.selectors.dashboard import register_outlet_figures

        from .selectors_workflow import outlet_compliance_annotations

        register_outlet_figures("compliance", outlet_compliance_annotations)
