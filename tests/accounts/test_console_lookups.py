"""The console answers only what each page declares (issue 13 §1): no query string is an oracle.

Every model the console registers is asked, through its list URL, for every one of its fields and the
fields one relation away (`user__password`, `beneficiary__id_number`), with each lookup of LOOKUPS, once
with a value that rows in the viewer's list hold (a right guess) and once with one no row holds (a wrong
guess). The two answers must be the same: same status and same rows. Only the declared filters may
answer differently, and none of them is on a field the console never shows.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime

import pytest
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, SuspiciousOperation
from django.db import models
from django.test import RequestFactory
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.admin_guard import NEVER_IN_CONSOLE, DeclaredLookupsOnly
from accounts.models import User
from records.models import Beneficiary
from tests.accounts.test_console_scoping import objects_of_district_a
from tests.conftest import sign_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOOKUPS = ("exact", "startswith", "regex", "in", "isnull")
VIEWERS = ("supervisor", "state_admin")
MODELS = sorted(admin.site._registry, key=lambda model: model._meta.label)


def _populate(world) -> None:
    """Rows of every console model in district A, a canary and a corrected record among them."""
    objects_of_district_a(world)
    for index, canary in enumerate((False, True)):
        record = Beneficiary.objects.create(
            reference_id=f"1000000000010{index}",
            facility=world.facility,
            name="Sunita Yadav",
            year_of_birth=1984,
            gender="F",
            id_type="aadhaar",
            id_number=f"98761234567{index}",
            mobile=f"+91987650000{index}",
            is_canary=canary,
        )
        record.mobile, record._history_user, record._change_reason = "+919876511111", world.supervisor, "corrected"
        record.save()  # the console lists records changed after registration
    device = StaticDevice.objects.create(user=world.worker, name="backup")
    StaticToken.objects.create(device=device, token="abcdef12")
    TOTPDevice.objects.create(user=world.worker, name="phone")


def _paths(model) -> list[str]:
    """Every concrete field of `model` and of the models its foreign keys point to."""
    paths = []
    for field in model._meta.concrete_fields:
        paths.append(field.name)
        if field.is_relation and field.related_model is not None:
            paths += [f"{field.name}__{far.name}" for far in field.related_model._meta.concrete_fields]
    return paths


def _field(model, path: str) -> models.Field:
    for name in path.split("__"):
        field = model._meta.get_field(name)
        model = field.related_model or model
    return field


def _absent(field: models.Field, present) -> str:
    """A value of the field's own type that no row holds (so a wrong guess is never refused as malformed)."""
    if isinstance(field, models.BooleanField):
        return str(not present)
    if isinstance(field, (models.IntegerField, models.AutoField, models.ForeignKey, models.DecimalField)):
        return "987654321"
    if isinstance(field, models.FloatField):
        return "0.123456"
    if isinstance(field, models.DateTimeField):
        return "2001-02-03 04:05:06"
    if isinstance(field, models.DateField):
        return "2001-02-03"
    if isinstance(field, models.UUIDField):
        return str(uuid.UUID(int=1))
    if isinstance(field, models.GenericIPAddressField):
        return "192.0.2.254"
    return "zz-no-such-value"


def _as_text(value) -> str:
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _guesses(lookup: str, present: str, absent: str) -> tuple[str, str]:
    if lookup == "isnull":
        return "False", "True"
    if lookup == "startswith":
        return present[:4], absent
    if lookup == "regex":
        return f"^{re.escape(present[:4])}", f"^{re.escape(absent)}"
    if lookup == "in":
        return f"{present},{absent}", absent
    return present, absent


def _request(user, query=None):
    request = RequestFactory().get("/", query)
    request.user = user
    user.is_verified = lambda: True  # what django-otp's middleware says of a session whose code was proven
    return request


def _answer(model_admin, user, query: dict) -> tuple:
    """What the list answers `user` for `query`: status, redirect and the rows' ids.

    The list view itself is called (the URL's middleware stack adds nothing to what a filter answers, and
    this walk makes some 15,000 requests); test_the_canary_and_identity_numbers_cannot_be_probed goes
    through the URLs.
    """
    try:
        response = model_admin.changelist_view(_request(user, query))
    except PermissionDenied:
        return 403, None, None
    except SuspiciousOperation:  # Django's own refusal of a lookup: a 400 page
        return 400, None, None
    context = getattr(response, "context_data", None) or {}
    rows = sorted(obj.pk for obj in context["cl"].result_list) if "cl" in context else None
    return response.status_code, response.get("Location"), rows


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_no_lookup_answers_a_guess(world, model, viewer):
    _populate(world)
    user = getattr(world, viewer)
    model_admin = admin.site._registry[model]
    listing = _answer(model_admin, user, {})
    visible = model_admin.get_queryset(_request(user)) if listing[0] == 200 else model._default_manager.all()
    declared = model_admin.declared_lookups(_request(user))
    oracles = []
    for path in _paths(model):
        field = _field(model, path)
        present = visible.exclude(**{f"{path}__isnull": True}).values_list(path, flat=True).first()
        present = _as_text(present) if present is not None else "x"
        for lookup in LOOKUPS:
            parameter = f"{path}__{lookup}"
            if parameter in declared:
                continue  # the page's own filter: answers by design (and is never on a hidden field: below)
            right, wrong = _guesses(lookup, present, _absent(field, present))
            answers = (_answer(model_admin, user, {parameter: right}), _answer(model_admin, user, {parameter: wrong}))
            if answers[0] != answers[1] or answers[0][0] != (400 if listing[0] == 200 else 403):
                oracles.append((parameter, *answers))
    assert oracles == []


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_declared_filters_search_and_ordering_never_touch_a_hidden_field(model):
    model_admin = admin.site._registry[model]
    assert isinstance(model_admin, DeclaredLookupsOnly)
    names = set()
    for parameter in model_admin.declared_lookups(_request(UserFactory.build(is_superuser=True))):
        names.update(parameter.split("__"))
    for path in (*model_admin.search_fields, *(model_admin.ordering or ()), model_admin.date_hierarchy or ""):
        names.update(path.lstrip("-=^@").split("__"))
    for column in model_admin.list_display:
        if isinstance(column, str):
            try:
                names.add(model._meta.get_field(column).name)
            except FieldDoesNotExist:
                names.add(getattr(getattr(model_admin, column, None), "admin_order_field", None) or "")
    assert names & NEVER_IN_CONSOLE == set()


def test_a_page_that_declares_a_hidden_field_fails_the_system_check():
    class MobileSearch(DeclaredLookupsOnly, admin.ModelAdmin):
        search_fields = ("username", "facility__name", "mobile")
        list_filter = ("status",)
        ordering = ("-password",)

    errors = MobileSearch(User, admin.site).check()
    named = sorted(error.msg.split(" names ")[1].split(":")[0] for error in errors if error.id == "prahari.E001")
    assert named == ["'-password'", "'mobile'"]


def test_a_declared_filter_still_answers(client, world):
    """The guard is not a wall: the dashboard's links and the list filters keep working."""
    _populate(world)
    sign_in(client, world.supervisor)
    suspended = client.get("/admin/accounts/user/", {"status__exact": "suspended"})
    active = client.get("/admin/accounts/user/", {"status__exact": "active"})
    assert suspended.status_code == active.status_code == 200
    assert list(suspended.context["cl"].result_list) == []
    assert world.worker in active.context["cl"].result_list
    log = client.get("/admin/records/accessevent/", {"actor__id__exact": world.worker.pk})
    assert log.status_code == 200 and len(log.context["cl"].result_list) == 1
    holds = client.get("/admin/accounts/loginhold/", {"cleared_at__isempty": "1"})
    assert holds.status_code == 200 and len(holds.context["cl"].result_list) == 1


def test_the_canary_and_identity_numbers_cannot_be_probed(client, world):
    """The report's own requests: each is refused whatever the guess, and no record is read."""
    _populate(world)
    sign_in(client, world.supervisor)
    for query in (
        {"is_canary__exact": "1"},
        {"reference_id": "10000000000101", "id_number__startswith": "9876"},
        {"mobile__startswith": "+9198"},
        {"year_of_birth": "1984"},
        {"gender__exact": "F"},
    ):
        response = client.get("/admin/records/beneficiary/", query)
        assert response.status_code == 400, query
        assert "cannot be filtered" in response.content.decode()
    secret = client.get("/admin/accounts/user/", {"username": "asha", "password__regex": "^"})
    assert secret.status_code == 400


def test_the_generic_helpers_no_page_declares_are_gone(client, world):
    """The autocomplete search and the "view on site" shortcut answer alike whatever they are asked."""
    from django.contrib.contenttypes.models import ContentType

    _populate(world)
    sign_in(client, world.supervisor)
    users = ContentType.objects.get_for_model(User).pk
    answers = {
        (response.status_code, response.get("Location"))
        for response in (
            client.get(f"/admin/r/{users}/{world.worker.pk}/"),
            client.get(f"/admin/r/{users}/987654/"),
            client.get(
                "/admin/autocomplete/",
                {"app_label": "accounts", "model_name": "invitation", "field_name": "user", "term": "asha"},
            ),
            client.get(
                "/admin/autocomplete/",
                {"app_label": "accounts", "model_name": "invitation", "field_name": "user", "term": "zz"},
            ),
        )
    }
    assert len(answers) == 1 and next(iter(answers))[0] in (302, 404)
