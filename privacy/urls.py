"""The operator admin's personal-data pages, under /privacy/."""

from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("", views.index, name="index"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/export/", views.request_export, name="export"),
    path("requests/<int:pk>/decide/", views.request_decide, name="decide"),
    path("requests/<int:pk>/<str:action>/", views.request_action, name="action"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:pk>/resume/", views.job_resume, name="job_resume"),
]
