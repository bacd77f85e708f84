"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from django.urls import path

from . import api

urlpatterns = [
    path("holder/sessions/", api.SessionStartView.as_view(), name="holder-session-start"),
    path(
        "holder/sessions/<uuid:pk>/verify/",
        api.SessionVerifyView.as_view(),
        name="holder-session-verify",
    ),
    path("holder/numbers/", api.NumbersView.as_view(), name="holder-numbers"),
    path("holder/disputes/", api.DisputesView.as_view(), name="holder-disputes"),
]
