from django.urls import path

from . import views

app_name = "subscribers"
urlpatterns = [
    path("", views.registration_list, name="list"),
    path("new/", views.registration_new, name="new"),
    path("<int:pk>/", views.registration_detail, name="detail"),
    path("<int:pk>/receipt/", views.registration_receipt, name="receipt"),
    path("<int:pk>/photos/<str:kind>/", views.registration_photo, name="photo"),
]
