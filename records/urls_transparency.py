"""/my-record/: the beneficiary's view of who opened their record (records/views_transparency.py)."""

from django.urls import path

from records import views_transparency as views

app_name = "transparency"

urlpatterns = [
    path("", views.ask, name="ask"),
    path("code/", views.code, name="code"),
    path("history/", views.history, name="history"),
    path("end/", views.end, name="end"),
]
