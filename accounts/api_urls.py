"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.ObtainTokenView.as_view(), name="api-token"),
]
