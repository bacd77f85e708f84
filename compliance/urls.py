"""Compliance pages, /compliance/: reconciliation (runs, discrepancies) and the workflow (the
outlet's inbox, GraPARI's review queue, histories, outlet records, notifications)."""

from django.urls import path

from .reconciliation import views as reconciliation
from .workflow.views import clarifications, history, notifications, review, sanctions

app_name = "compliance"
urlpatterns = [
    path("runs/", reconciliation.run_list, name="runs"),
    path("runs/<int:pk>/", reconciliation.run_detail, name="run"),
    path("discrepancies/", reconciliation.discrepancy_list, name="discrepancies"),
    path("discrepancies/<int:pk>/", reconciliation.discrepancy_detail, name="discrepancy"),
    path("inbox/", clarifications.inbox, name="inbox"),
    path("clarifications/<int:pk>/", clarifications.clarification_detail, name="clarification"),
    path(
        "clarifications/<int:pk>/answers/<int:answer_pk>/evidence/",
        clarifications.evidence_photo,
        name="evidence",
    ),
    path("review/", review.review_queue, name="review_queue"),
    path("review/bulk/", review.review_bulk, name="review_bulk"),
    path("review/<int:pk>/", review.review_item, name="review_item"),
    path("review/<int:pk>/claim/", review.review_claim, name="review_claim"),
    path("review/<int:pk>/release/", review.review_release, name="review_release"),
    path("review/<int:pk>/decide/", review.review_decide, name="review_decide"),
    path(
        "registrations/<int:pk>/history/",
        history.registration_history_page,
        name="registration_history",
    ),
    path("outlets/<int:pk>/", sanctions.outlet_record, name="outlet"),
    path("sanctions/<int:pk>/lift/", sanctions.sanction_lift, name="sanction_lift"),
    path("notifications/", notifications.notification_list, name="notifications"),
]
