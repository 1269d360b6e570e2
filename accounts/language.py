"""The language switch that remembers: a year-long cookie for this browser, and the account (for its messages)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from accounts.services.users import user_language_set


@login_not_required
@require_POST
def language_switch(request):
    """Django's set_language (cookie, redirect to `next`); a signed-in account also keeps the choice."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return response
