from django.urls import path, re_path

from records import views

app_name = "records"

# Any id reaches the pages, slashes and control characters included: the read path answers one that is
# not 14 digits like a missing record and logs the look-up (records.services). A narrower pattern would
# leave some ids to Django's own 404, unlogged and on another page.
ANY_ID = r"(?P<reference_id>[\s\S]*)"

urlpatterns = [
    path("", views.search, name="search"),
    re_path(rf"^{ANY_ID}/reveal/$", views.reveal, name="reveal"),
    re_path(rf"^{ANY_ID}/$", views.record, name="record"),
]
