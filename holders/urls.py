"""The door's pages, mounted at /nomor-saya/ by registration_portal.urls."""

from django.urls import path

from . import views

app_name = "holders"
urlpatterns = [
    path("", views.start, name="start"),
    path("kode/", views.code, name="code"),
    path("wajah/", views.face, name="face"),
    path("nomor/", views.numbers, name="numbers"),
    path("laporkan/", views.dispute, name="dispute"),
    path("pilih/", views.keep, name="keep"),
    path("pernyataan/", views.statement, name="statement"),
    path("keluar/", views.end, name="end"),
    path("jawab/<str:token>/", views.answer, name="answer"),
    path("periksa/", views.statement_check, name="statement_check"),
    path("ulasan/<int:item_id>/", views.dispute_review, name="dispute_review"),
]
