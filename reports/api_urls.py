"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("reports", api.ReportViewSet, basename="export-job")
urlpatterns = router.urls
