"""The portal's URLs plus the ungoverned baseline page of P2 (benchmarks only; never in portal/urls.py)."""

from django.urls import path

from bench.records import ungoverned_record
from portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [path("bench/ungoverned/<str:reference_id>/", ungoverned_record), *portal_urlpatterns]
