"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from rest_framework.routers import SimpleRouter

from .reconciliation.api import DiscrepancyViewSet, ReconciliationRunViewSet
from .workflow.api.clarifications import ClarificationViewSet
from .workflow.api.notifications import NotificationViewSet
from .workflow.api.review import ReviewItemViewSet
from .workflow.api.sanctions import SanctionViewSet

router = SimpleRouter()
router.register("reconciliation-runs", ReconciliationRunViewSet, basename="reconciliation-run")
router.register("discrepancies", DiscrepancyViewSet, basename="discrepancy")
router.register("clarifications", ClarificationViewSet, basename="clarification")
router.register("review-items", ReviewItemViewSet, basename="review-item")
router.register("sanctions", SanctionViewSet, basename="sanction")
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
