"""Compliance pages (reconciliation runs, discrepancies; later the review queue), /compliance/."""

from django.urls import path

from . import views

app_name = "compliance"
urlpatterns = [
    path("runs/", views.run_list, name="runs"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("discrepancies/", views.discrepancy_list, name="discrepancies"),
    path("discrepancies/<int:pk>/", views.discrepancy_detail, name="discrepancy"),
]

# The compliance workflow (issue 4): the outlet's inbox, GraPARI's review queue, histories.
from . import views_workflow  # noqa: E402

urlpatterns += [
    path("inbox/", views_workflow.inbox, name="inbox"),
    path("clarifications/<int:pk>/", views_workflow.clarification_detail, name="clarification"),
    path(
        "clarifications/<int:pk>/answers/<int:answer_pk>/evidence/",
        views_workflow.evidence_photo,
        name="evidence",
    ),
    path("review/", views_workflow.review_queue, name="review_queue"),
    path("review/bulk/", views_workflow.review_bulk, name="review_bulk"),
    path("review/<int:pk>/", views_workflow.review_item, name="review_item"),
    path("review/<int:pk>/claim/", views_workflow.review_claim, name="review_claim"),
    path("review/<int:pk>/release/", views_workflow.review_release, name="review_release"),
    path("review/<int:pk>/decide/", views_workflow.review_decide, name="review_decide"),
    path(
        "registrations/<int:pk>/history/",
        views_workflow.registration_history_page,
        name="registration_history",
    ),
    path("outlets/<int:pk>/", views_workflow.outlet_record, name="outlet"),
    path("sanctions/<int:pk>/lift/", views_workflow.sanction_lift, name="sanction_lift"),
    path("notifications/", views_workflow.notification_list, name="notifications"),
]
