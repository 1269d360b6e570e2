"""The signed-in person's home page: their sessions and devices, their re-verification date, and their own
latest record look-ups (from the records read path), so it sits above both apps."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.models import RegisteredDevice, UserSession
from accounts.services.sessions import session_public_id
from records.services import access_history

HOME_ACCESS_ROWS = 10


@never_cache
def home(request):
    user = request.user
    current = request.session.session_key
    sessions = [
        {"id": session_public_id(s.session_key), "current": s.session_key == current, "row": s}
        for s in UserSession.objects.filter(user=user).select_related("device").order_by("-created_at")
    ]
    devices = RegisteredDevice.objects.filter(user=user).exclude(status=RegisteredDevice.Status.REJECTED)
    due = user.review_due_at
    return render(
        request,
        "accounts/home.html",
        {
            "sessions": sessions,
            "devices": devices,
            "access": access_history(user, limit=HOME_ACCESS_ROWS),
            "review_due": due,
            "review_due_days": max((due - timezone.now()).days, 0) if due else None,
        },
    )
