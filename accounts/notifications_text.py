"""The words of every notification, per `kind`: an SMS text (also the e-mail body) and an e-mail subject.

Texts are short (an SMS is at most 160 characters, in Hindi too), marked for translation and rendered
in the recipient's language by `notification_send`. Placeholders are `%(name)s`, filled from the
notification's context; `KINDS` lists the context keys each kind needs:

| kind                    | to             | context                             |
|-------------------------|----------------|-------------------------------------|
| lockout                 | supervisor     | username                            |
| login_held              | supervisor     | username                            |
| account_locked          | account owner  | until (ISO), name, mobile (whom to call; "" if none) |
| account_held            | account owner  | locks, hours, name, mobile (as above)   |
| device_pending          | supervisor     | username, code (the device code)    |
| device_approved         | worker         | code                                |
| device_rejected         | worker         | code                                |
| device_revoked          | worker         | code                                |
| account_suspended       | worker         | —                                   |
| session_ended_elsewhere | worker         | —                                   |
| password_changed        | user           | —                                   |
| password_reset_link     | user           | url (minutes: default from settings)|
| mobile_changed          | old and new no.| masked (masked again here anyway)   |
| otp_device_changed      | user           | action: "added" or "removed"        |
| invitation              | invited person | url, hours                          |
| onboarding_pending      | supervisor     | username, code (the device code)    |
| account_approved        | worker         | —                                   |
| dormancy_warning        | account owner  | days (until suspension)             |
| governance_digest       | supervisor     | count, action, names (≤3, ≤60 chars)|
| review_due              | account owner  | date (due, YYYY-MM-DD local)        |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from accounts.dates import written_moment
from accounts.sms import mask_mobile

SMS_MAX_CHARS = 160


@dataclass(frozen=True)
class Message:
    subject: Promise
    text: Promise
    needs: tuple[str, ...] = ()
    # Values given as a fixed word (e.g. action "added") and shown translated.
    choices: Mapping[str, Mapping[str, Promise]] = field(default_factory=dict)
    # Values made safe or completed before use (a number masked, a default filled in).
    prepare: Callable[[dict[str, Any]], None] | None = None


def _mask_number(context: dict[str, Any]) -> None:
    context["masked"] = mask_mobile(str(context["masked"]))


def _reset_minutes(context: dict[str, Any]) -> None:
    context.setdefault("minutes", settings.PASSWORD_RESET_TIMEOUT // 60)


def _written_date(context: dict[str, Any]) -> None:
    """The ISO date as the recipient's language writes dates (portal/formats); a text it cannot read stays as it is."""
    with suppress(ValueError):
        context["date"] = date_format(date.fromisoformat(str(context["date"])), "DATE_FORMAT")


CONTACT_NAME_MAX_CHARS = 30  # a long name must not push the notice past one SMS


def _whom_to_call(context: dict[str, Any]) -> None:
    """The governor to call, "Name, number" (or what of it is known), and the lock's end in the recipient's format."""
    name = str(context.get("name") or "").strip()
    if len(name) > CONTACT_NAME_MAX_CHARS:  # whole words only, as many as fit
        name = name[: CONTACT_NAME_MAX_CHARS + 1].rsplit(" ", 1)[0][:CONTACT_NAME_MAX_CHARS]
    mobile = str(context.get("mobile") or "")
    if name and mobile:
        context["contact"] = _("%(name)s, %(mobile)s") % {"name": name, "mobile": mobile}
    else:
        context["contact"] = name or mobile or _("your supervisor")
    if "until" in context:
        with suppress(ValueError):
            context["until"] = written_moment(datetime.fromisoformat(str(context["until"])))


KINDS: dict[str, Message] = {
    "lockout": Message(
        subject=_("Prahari: account locked"),
        text=_("Prahari: the account %(username)s is locked after too many failed log-in attempts."),
        needs=("username",),
    ),
    "login_held": Message(
        subject=_("Prahari: account locked until you unlock it"),
        text=_(
            "Prahari: the account %(username)s was locked for the 3rd time in 24 hours. It stays locked "
            "until you unlock it."
        ),
        needs=("username",),
    ),
    "account_locked": Message(
        subject=_("Prahari: your account is locked"),
        text=_("Prahari: too many failed log-ins locked your account. Try again after %(until)s or call %(contact)s."),
        needs=("until", "name", "mobile"),
        prepare=_whom_to_call,
    ),
    "account_held": Message(
        subject=_("Prahari: your account is locked until it is unlocked"),
        text=_(
            "Prahari: your account was locked %(locks)s times in %(hours)s hours. Only your supervisor can unlock "
            "it now: call %(contact)s."
        ),
        needs=("locks", "hours", "name", "mobile"),
        prepare=_whom_to_call,
    ),
    "device_pending": Message(
        subject=_("Prahari: a device is waiting for your approval"),
        text=_(
            "Prahari: %(username)s asks you to approve a new device, device code %(code)s. Check the code "
            "by phone before you approve."
        ),
        needs=("username", "code"),
    ),
    "device_approved": Message(
        subject=_("Prahari: device approved"),
        text=_("Prahari: your device with device code %(code)s was approved. You can log in on it now."),
        needs=("code",),
    ),
    "device_rejected": Message(
        subject=_("Prahari: device rejected"),
        text=_("Prahari: your supervisor rejected the device with device code %(code)s."),
        needs=("code",),
    ),
    "device_revoked": Message(
        subject=_("Prahari: device approval withdrawn"),
        text=_("Prahari: the approval of the device with device code %(code)s was withdrawn; its sessions ended."),
        needs=("code",),
    ),
    "account_suspended": Message(
        subject=_("Prahari: account suspended"),
        text=_("Prahari: your account has been suspended. Please contact your supervisor."),
    ),
    "session_ended_elsewhere": Message(
        subject=_("Prahari: earlier session ended"),
        text=_(
            "Prahari: you logged in again, so your earlier session was ended. If this was not you, tell "
            "your supervisor now."
        ),
    ),
    "password_changed": Message(
        subject=_("Prahari: password changed"),
        text=_("Prahari: your password was changed. If this was not you, tell your supervisor now."),
    ),
    "password_reset_link": Message(
        subject=_("Prahari: set a new password"),
        text=_("Prahari: set a new password within %(minutes)s minutes (the link works once): %(url)s"),
        needs=("url",),
        prepare=_reset_minutes,
    ),
    "mobile_changed": Message(
        subject=_("Prahari: mobile number changed"),
        text=_(
            "Prahari: your account's mobile number was changed to %(masked)s. If this was not you, tell "
            "your supervisor now."
        ),
        needs=("masked",),
        prepare=_mask_number,
    ),
    "otp_device_changed": Message(
        subject=_("Prahari: authenticator changed"),
        text=_(
            "Prahari: an authenticator was %(action)s on your account. If this was not you, tell your supervisor now."
        ),
        needs=("action",),
        choices={"action": {"added": _("added"), "removed": _("removed")}},
    ),
    "invitation": Message(
        subject=_("Prahari: you are invited"),
        text=_("Prahari: set up your account within %(hours)s hours (the link works once): %(url)s"),
        needs=("url", "hours"),
    ),
    "onboarding_pending": Message(
        subject=_("Prahari: an account is waiting for your approval"),
        text=_(
            "Prahari: %(username)s has enrolled and waits for your approval, device code %(code)s. Check the "
            "code by phone before you approve."
        ),
        needs=("username", "code"),
    ),
    "dormancy_warning": Message(
        subject=_("Prahari: log in to keep your account"),
        text=_(
            "Prahari: you have not logged in for a long time. Log in soon: after %(days)s days without a "
            "login the account is suspended."
        ),
        needs=("days",),
    ),
    "governance_digest": Message(
        subject=_("Prahari: accounts in your area changed"),
        text=_("Prahari: daily checks %(action)s %(count)s of your accounts: %(names)s. See the console."),
        needs=("count", "action", "names"),
        choices={"action": {"suspended": _("suspended"), "reminded": _("reminded"), "flagged": _("flagged")}},
    ),
    "account_approved": Message(
        subject=_("Prahari: account approved"),
        text=_("Prahari: your account was approved. You can log in now."),
    ),
    "review_due": Message(
        subject=_("Prahari: re-verification due"),
        text=_(
            "Prahari: your account's re-verification is due by %(date)s. Ask your supervisor to confirm your "
            "access, or the account will be suspended."
        ),
        needs=("date",),
        prepare=_written_date,
    ),
}


def message_for(kind: str) -> Message:
    """Return the Message of `kind`; KeyError naming the known kinds if there is none."""
    try:
        return KINDS[kind]
    except KeyError:
        raise KeyError(f"Unknown notification kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}") from None


def check_context(kind: str, context: Mapping[str, Any] | None) -> None:
    """Raise KeyError (or ValueError for a value outside its choices) if `context` cannot fill `kind`."""
    message = message_for(kind)
    context = context or {}
    missing = [name for name in message.needs if name not in context]
    if missing:
        raise KeyError(f"Notification kind {kind!r} needs context {', '.join(missing)}")
    for name, choices in message.choices.items():
        if context[name] not in choices:
            raise ValueError(f"Notification kind {kind!r}: {name} must be one of {', '.join(choices)}")


def render(kind: str, context: Mapping[str, Any] | None, language: str) -> tuple[str, str]:
    """Return `(subject, text)` of `kind` in `language`, placeholders filled from `context`."""
    check_context(kind, context)
    message = message_for(kind)
    values = dict(context or {})
    with override(language):
        if message.prepare:
            message.prepare(values)
        for name, choices in message.choices.items():
            values[name] = str(choices[values[name]])
        return str(message.subject), str(message.text) % values
