"""Risk pages, /risk/."""

from django.urls import path

from . import views

app_name = "risk"
urlpatterns = [
    path("", views.outlets_view, name="outlets"),
    path("outlets/<str:roid>/", views.outlet_view, name="outlet"),
    path("outlets/<str:roid>/<slug:signal>/", views.records_view, name="records"),
]
