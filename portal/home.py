"""The signed-in person's home page: the record search first, then their own latest look-ups (from the records
read path) and a short "My account" part (re-verification date; sessions and devices are on accounts' "My
account" page). It sits above both apps."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.views.home import review_due_days
from records.forms import SearchForm
from records.history import access_history

HOME_ACCESS_ROWS = 10


@never_cache
def home(request):
    user = request.user
    return render(
        request,
        "accounts/home.html",
        {
            "search_form": SearchForm(),
            "access": access_history(user, limit=HOME_ACCESS_ROWS),
            "review_due": user.review_due_at,
            "review_due_days": review_due_days(user),
        },
    )
