"""This app's API routes, mounted under /api/v1/ by registration_portal.api_urls."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("reconciliation-runs", api.ReconciliationRunViewSet, basename="reconciliation-run")
router.register("discrepancies", api.DiscrepancyViewSet, basename="discrepancy")
urlpatterns = router.urls

# The compliance workflow (issue 4): clarifications, the review queue, sanctions, notifications.
from . import api_workflow  # noqa: E402

workflow_router = SimpleRouter()
workflow_router.register(
    "clarifications", api_workflow.ClarificationViewSet, basename="clarification"
)
workflow_router.register("review-items", api_workflow.ReviewItemViewSet, basename="review-item")
workflow_router.register("sanctions", api_workflow.SanctionViewSet, basename="sanction")
workflow_router.register("notifications", api_workflow.NotificationViewSet, basename="notification")
urlpatterns += workflow_router.urls
