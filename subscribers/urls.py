from django.urls import path, register_converter

from . import rule_views, views


class ReceiptTokenConverter:
    """A signed receipt token: ``<registration number>:<timestamp>:<signature>``."""

    regex = r"[A-Za-z0-9_\-]+:[A-Za-z0-9]+:[A-Za-z0-9_\-]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ReceiptTokenConverter, "receipt_token")

app_name = "subscribers"
urlpatterns = [
    path("", views.registration_list, name="list"),
    path("new/", views.registration_new, name="new"),
    path("new/validate/", views.registration_validate, name="validate"),
    path("<int:pk>/", views.registration_detail, name="detail"),
    path("<int:pk>/reveal/", views.registration_reveal, name="reveal"),
    path("<int:pk>/receipt/", views.registration_receipt, name="receipt"),
    path("<int:pk>/receipt.pdf", views.registration_receipt_pdf, name="receipt_pdf"),
    path("<int:pk>/photos/<str:kind>/", views.registration_photo, name="photo"),
    # Rule sets: drafts, their preview against history, publication (operator admins).
    path("rules/", rule_views.rule_set_list, name="rule_sets"),
    path("rules/<int:pk>/copy/", rule_views.rule_set_copy, name="rule_set_copy"),
    path("rules/drafts/<int:pk>/", rule_views.rule_draft, name="rule_draft"),
    path("rules/drafts/<int:pk>/preview/", rule_views.rule_draft_preview, name="rule_preview_new"),
    path("rules/drafts/<int:pk>/publish/", rule_views.rule_draft_publish, name="rule_publish"),
    path("rules/previews/<int:pk>/", rule_views.rule_preview, name="rule_preview"),
    path(
        "rules/previews/<int:pk>/samples/<str:bucket>/",
        rule_views.rule_preview_samples,
        name="rule_preview_samples",
    ),
    # The buyer's copy: readable without an account, through a signed link (30 days).
    path(
        "receipt/<receipt_token:token>/", views.registration_receipt_shared, name="receipt_shared"
    ),
    path(
        "receipt/<receipt_token:token>.pdf",
        views.registration_receipt_shared_pdf,
        name="receipt_shared_pdf",
    ),
]
