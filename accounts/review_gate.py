"""The re-confirmation gate: a signed-in account that must re-confirm reaches nothing else.

After a review attests an account (`reconfirm_pending`), or when a newer data-use undertaking exists
than the one the account last accepted, every page but the re-confirmation page, log-out and the
language switch sends the person to re-confirm (a fresh code and the current undertaking).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.db import DatabaseError
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.services.reviews import reconfirm_required

log = logging.getLogger(__name__)

OPEN_URL_NAMES = (
    "accounts:review-reconfirm",
    "accounts:logout",
    "set_language",
    # An account whose only second factor is a passkey proves it there, on its way back to re-confirm.
    "accounts:step-up-passkey-options",
    "accounts:step-up-passkey",
)


class ReconfirmGateMiddleware:
    """Send a signed-in account that must re-confirm to the re-confirmation page; fail closed.

    Sits right after SessionGuardMiddleware (which has already ended any session that may not go on).
    If the check cannot be made (the database fails), the request is refused with a 503 page.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def open_paths(self) -> frozenset[str]:
        if self._open_paths is None:
            self._open_paths = frozenset(reverse(name) for name in OPEN_URL_NAMES)
        return self._open_paths

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path_info in self.open_paths():
            return self.get_response(request)
        try:
            must = reconfirm_required(user)  # the flag is on the loaded account; the version rule, one query
        except DatabaseError:
            log.exception("re-confirmation check failed for user %s; request refused", user.pk)
            return render(request, "accounts/review_unavailable.html", status=503)
        if must:
            target = reverse("accounts:review-reconfirm")
            if request.method == "GET":
                target = f"{target}?{urlencode({'next': request.get_full_path()})}"
            return redirect(target)
        return self.get_response(request)
