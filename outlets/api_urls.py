"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from rest_framework.routers import SimpleRouter

from .api import agreements, outlets, staff, stock, training

router = SimpleRouter()
router.register("outlets", outlets.OutletViewSet, basename="outlet")
router.register("outlet-dashboard", outlets.OutletDashboardViewSet, basename="outlet-dashboard")
router.register(
    "outlet-applications", outlets.OutletApplicationViewSet, basename="outlet-application"
)
router.register("starter-packs", outlets.StarterPackViewSet, basename="starter-pack")
router.register("outlet-staff", staff.OutletStaffViewSet, basename="outlet-staff")
router.register("stock-allocations", stock.StockAllocationViewSet, basename="stock-allocation")
router.register("stock-moves", stock.StockMoveViewSet, basename="stock-move")
router.register(
    "responsible-parties", agreements.ResponsiblePartyViewSet, basename="responsible-party"
)
router.register("agreements", agreements.AgreementViewSet, basename="agreement")
router.register("training-sessions", training.TrainingSessionViewSet, basename="training-session")
urlpatterns = router.urls
