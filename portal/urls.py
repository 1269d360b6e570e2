from django.contrib import admin
from django.urls import include, path

from accounts.language import language_switch
from portal import metrics, views
from portal.home import home

handler403 = "portal.views.permission_denied"
handler500 = "portal.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("i18n/setlang/", language_switch, name="set_language"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("records/", include("records.urls")),
    path("my-record/", include("records.urls_transparency")),
    path("", home, name="home"),
]
