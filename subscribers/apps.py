from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = _("Subscriber registrations")

    def ready(self) -> None:
        from outlets.selectors.dashboard import register_outlet_figures

        from .selectors import outlet_registration_figures

        register_outlet_figures("registrations", outlet_registration_figures)
