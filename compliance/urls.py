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
