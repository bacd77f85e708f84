"""/api/v1/: each app owns its routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api_urls")),
    path("", include("outlets.api_urls")),
    path("", include("subscribers.api_urls")),
    path("", include("compliance.api_urls")),
    path("", include("holders.api_urls")),
    path("", include("reports.api_urls")),
]
