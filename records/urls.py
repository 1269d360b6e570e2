from django.urls import path

from records import views

app_name = "records"

urlpatterns = [
    path("", views.search, name="search"),
    path("<str:reference_id>/", views.record, name="record"),
    path("<str:reference_id>/reveal/", views.reveal, name="reveal"),
]
