"""Report pages, /reports/."""

from django.urls import path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("refresh/", views.refresh, name="refresh"),
    path("rows/registrations/", views.registration_rows_view, name="registrations_rows"),
    path("rows/discrepancies/", views.discrepancy_rows_view, name="discrepancies_rows"),
    path("exports/", views.exports, name="exports"),
    path("exports/<int:pk>/", views.export_detail, name="export"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("verify/", views.verify, name="verify"),
]
