"""Compliance pages (reconciliation runs, later the review queue), under /compliance/."""

from django.urls import path

app_name = "compliance"
urlpatterns: list = []
