"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("auth/tokens", api.ApiTokenViewSet, basename="api-token")

urlpatterns = [
    path("auth/token/", api.ObtainTokenView.as_view(), name="api-token"),
    *router.urls,
]
