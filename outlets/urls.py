"""The dealer's pages, under /outlets/."""

from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "outlets"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="outlets:dashboard"), name="index"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard.csv", views.dashboard_csv, name="dashboard_csv"),
    path("notices/read/", views.notices_read, name="notices_read"),
    path("<int:pk>/", views.outlet_detail, name="detail"),
    path("<int:pk>/status/", views.outlet_status, name="status"),
    path("<int:pk>/staff/invite/", views.staff_invite, name="staff_invite"),
    path("<int:pk>/stock/return/", views.stock_return, name="stock_return"),
    path("staff/<int:pk>/remove/", views.staff_remove, name="staff_remove"),
    path("staff/<int:pk>/invitation/", views.staff_invitation_link, name="staff_invitation"),
    path("invitation/<uidb64>/<token>/", views.invitation, name="invitation"),
    path("applications/", views.application_list, name="applications"),
    path("applications/new/", views.application_new, name="application_new"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("stock/", views.stock_overview, name="stock"),
    path("stock/to-dealer/", views.stock_to_dealer, name="stock_to_dealer"),
    path("stock/to-outlet/", views.stock_to_outlet, name="stock_to_outlet"),
    path("stock/allocations/<int:pk>/", views.allocation_detail, name="allocation_detail"),
    path("agreements/", views.agreement_list, name="agreements"),
    path("agreements/new/", views.agreement_new, name="agreement_new"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement_detail"),
    path("agreements/<int:pk>/document/", views.agreement_document, name="agreement_document"),
    path("training/", views.training_list, name="training"),
    path("training/new/", views.training_new, name="training_new"),
    path("training/<int:pk>/", views.training_detail, name="training_detail"),
]
