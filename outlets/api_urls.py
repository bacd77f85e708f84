"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("outlets", api.OutletViewSet, basename="outlet")
router.register("starter-packs", api.StarterPackViewSet, basename="starter-pack")
urlpatterns = router.urls
