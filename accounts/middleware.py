"""The session guard: every request of a signed-in person re-checks what the login established."""

from __future__ import annotations

from django.contrib import messages
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _

from accounts.login.device_cookie import device_cookie_migrate, device_token_read
from accounts.login.session import session_end, session_problem, session_touch
from accounts.models import Status
from accounts.services.devices import device_token_hash

REASONS = {
    "idle": _("You were signed out after 15 minutes without activity."),
    "absolute": _("You were signed out: a session lasts at most 12 hours. Please sign in again."),
    "device": _("You were signed out: this session is bound to an approved device."),
    "account": _("You were signed out: your account is not active."),
    "incomplete": _("Please sign in."),
}


class SessionGuardMiddleware:
    """End a session that is idle, too old, unverified, off its device, or whose account is not active.

    Sits after django-otp's OTPMiddleware. Fails closed: anything it cannot confirm ends the session.
    On the way out it marks a signed-in person's response `no-store` when its view set no Cache-Control, and moves
    a device cookie set under an old name to the current one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            problem = None
            if user.is_system or not user.is_active or user.status != Status.ACTIVE:
                problem = "account"
            else:
                token = device_token_read(request)
                problem = session_problem(request, device_token_hash=device_token_hash(token) if token else None)
            if problem:
                session_end(request, reason=problem)
                messages.warning(request, REASONS[problem])
            else:
                session_touch(request)
        response = self.get_response(request)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)  # what a signed-in person sees is never kept by a cache (ASVS V14.3.2)
        device_cookie_migrate(request, response)  # a device cookie under its pre-`__Host-` name moves over
        return response
