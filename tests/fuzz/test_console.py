"""The console under fuzzed input: every changelist's query string, the changelist actions (`action`,
`_selected_action`, `select_across`, `index`, the reason), and the account hub's actions. Never a 500; a refused
input changes nothing."""

from __future__ import annotations

import pytest
from django.contrib import admin, messages
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import sign_in
from tests.fuzz.harness import (
    FAILURE_LOG,
    NASTY,
    SESSIONS,
    VALUE,
    assert_not_500,
    changed,
    raw_query,
    snapshot,
)

pytestmark = pytest.mark.django_db

# A list page's own parameters, its filters' and a few Django would take on any field.
LIST_NAMES = [
    "p",
    "o",
    "q",
    "all",
    "_facets",
    "_popup",
    "e",
    "_to_field",
    "status",
    "status__exact",
    "role__exact",
    "lock",
    "created_at__year",
    "created_at__month",
    "created_at__day",
    "actor__id__exact",
    "type__exact",
    "state__exact",
    "decision__exact",
    "severity__exact",
    "rule",
    "district",
    "id__gt",
    "password__startswith",
]
QUERY = st.one_of(
    raw_query(LIST_NAMES),
    st.dictionaries(st.one_of(st.sampled_from(LIST_NAMES), st.text(max_size=20)), VALUE, max_size=4),
)
UNCHANGED_BY_A_READ = SESSIONS


def changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist") for model in admin.site._registry
    )


def _get(client, path: str, query):
    if isinstance(query, str):
        return client.generic("GET", f"{path}?{query}")
    return client.get(path, query)


@pytest.fixture
def state_console(client, world):
    sign_in(client, world.state_admin)
    return client


@given(index=st.integers(min_value=0), query=QUERY)
def test_any_query_string_on_any_list_is_a_page_or_a_4xx(state_console, index, query):
    paths = changelists()
    path = paths[index % len(paths)]
    before = snapshot(UNCHANGED_BY_A_READ)
    response = _get(state_console, path, query)
    assert_not_500(response)
    assert response.status_code in (200, 302, 400, 403, 404)
    assert changed(before, snapshot(UNCHANGED_BY_A_READ)) == []


# --- Changelist actions ----------------------------------------------------------------------------------

USER_ACTIONS = [
    "suspend",
    "reinstate",
    "deactivate",
    "unlock",
    "approve_onboarding",
    "reject_onboarding",
    "resend_invitation",
    "revoke_invitation",
    "delete_selected",
]
DEVICE_ACTIONS = ["approve_device", "reject_device", "revoke_device", "delete_selected"]
# A reason the form refuses: empty, too short, too long (3 to 1000 characters are taken).
_VISIBLE = st.characters(exclude_categories=("Z", "Cc", "Cs"))  # nothing the form strips
BAD_REASON = st.one_of(
    st.just(""), st.text(max_size=2), st.text(_VISIBLE, min_size=1001, max_size=1200), st.just("x" * 5000)
)


def _accepted(response) -> bool:
    """An action was carried out: the report this request added says so (Django's own "no action selected" and
    "items must be selected" are warnings; an action that did nothing reports an error)."""
    added = getattr(response.wsgi_request._messages, "_queued_messages", [])
    return any(m.level == messages.SUCCESS for m in added)


def _selection(out_of_scope: list[int]):
    """Rows to act on: ids of rows outside the viewer's reach, ids of no row, and values that are no id at all."""
    not_ids = st.one_of(NASTY, st.integers(min_value=10**6), st.integers(max_value=0), st.just(2**70))
    return st.lists(st.one_of(st.sampled_from(out_of_scope), not_ids), max_size=4)


@pytest.fixture
def console(client, world):
    sign_in(client, world.supervisor)
    return client


@given(data=st.data())
def test_changelist_actions_refuse_what_they_cannot_take(console, world, data):
    """Refused selections: out of scope, no such row, not an id; the whole list only with a reason the form refuses."""
    from accounts.models import RegisteredDevice

    client = console
    far_device = RegisteredDevice.objects.filter(user=world.far_worker).first() or RegisteredDevice.objects.create(
        user=world.far_worker, token_hash="f" * 64, code="FARDEVCE", status="pending"
    )
    path, action_names, out_of_scope = data.draw(
        st.sampled_from(
            [
                ("/admin/accounts/user/", USER_ACTIONS, [world.far_worker.pk, world.other_state_admin.pk]),
                ("/admin/accounts/registereddevice/", DEVICE_ACTIONS, [far_device.pk]),
            ]
        )
    )
    across = data.draw(st.one_of(st.just("1"), NASTY), label="select_across")
    body = {
        # Always an action and a selection (mostly a real action): the path that reads the selection.
        "action": data.draw(st.one_of(st.sampled_from(action_names), VALUE), label="action"),
        "_selected_action": data.draw(_selection(out_of_scope), label="_selected_action"),
        "index": data.draw(st.one_of(st.just("0"), VALUE), label="index"),
    }
    optional = {
        "select_across": st.just(across),
        "apply": st.one_of(st.just("1"), VALUE),
        # Django's select_across is true for any value but "", "0" and "false": then only a refused reason.
        "reason": BAD_REASON if across.lower() not in ("", "0", "false") else st.one_of(NASTY, BAD_REASON),
        "method": st.one_of(st.just("totp"), VALUE),
        "token": VALUE,
    }
    body.update(data.draw(st.fixed_dictionaries({}, optional=optional), label="optional"))
    before = snapshot(SESSIONS | FAILURE_LOG)
    response = client.post(path, body)
    assert_not_500(response)
    assert not _accepted(response)
    assert changed(before, snapshot(SESSIONS | FAILURE_LOG)) == []


# --- The account hub --------------------------------------------------------------------------------------


@given(data=st.data())
def test_account_hub_actions_refuse_bad_input(console, world, data):
    from governance.account_actions import HUB_ACTIONS

    client = console
    account = data.draw(
        st.one_of(
            st.sampled_from([world.worker.pk, world.far_worker.pk, world.other_state_admin.pk]).map(str),
            st.integers(min_value=0, max_value=10**20).map(str),
        ),
        label="account",
    )
    name = data.draw(
        st.one_of(st.sampled_from(sorted(HUB_ACTIONS)), st.from_regex(r"[-a-zA-Z0-9_]{1,30}", fullmatch=True))
    )
    from accounts.models import RegisteredDevice

    pending = RegisteredDevice.objects.get_or_create(  # a device the supervisor may decide on: approval's page
        user=world.worker, code="PENDNGDV", defaults={"token_hash": "e" * 64, "status": "pending"}
    )[0]
    device = data.draw(
        st.one_of(st.none(), st.just(pending.pk), st.integers(min_value=0, max_value=10**20)), label="device"
    )
    path = f"/admin/accounts/user/{account}/act/{name}/" + (f"{device}/" if device is not None else "")
    body = data.draw(
        st.fixed_dictionaries(
            {},
            optional={"reason": BAD_REASON, "method": VALUE, "token": VALUE, "backup_code": VALUE, "send_sms": VALUE},
        ),
        label="body",
    )
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]), label="method")
    before = snapshot(SESSIONS | FAILURE_LOG)
    if method == "GET":
        response = client.get(path, body)
    elif method == "POST":
        response = client.post(path, body)
    else:
        response = client.generic(method, path)
    assert_not_500(response)
    assert not _accepted(response)
    assert changed(before, snapshot(SESSIONS | FAILURE_LOG)) == []


@pytest.mark.parametrize("selected", ["abc", "1.5", "", "\x00", "١", "9" * 300, " 1 2"])
@pytest.mark.parametrize(
    "path", ["/admin/accounts/user/", "/admin/accounts/registereddevice/", "/admin/accounts/alert/"]
)
def test_a_selection_that_is_no_row_id_is_a_400_not_a_500(console, world, path, selected):
    """Found by the fuzzing: Django's admin filtered the list by `_selected_action` as given, and a value that is
    no integer raised a ValueError (a 500). The guard answers 400 before the selection is read."""
    before = snapshot(SESSIONS)
    response = console.post(
        path, {"action": "delete_selected", "_selected_action": [world.worker.pk, selected], "index": "0"}
    )
    assert response.status_code == 400
    assert "A selected row is not valid." in response.content.decode()
    assert changed(before, snapshot(SESSIONS)) == []
