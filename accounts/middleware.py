"""Defence in depth: a session whose account is no longer active is ended on its next request."""

from django.contrib.auth import logout

from accounts.models import Status


class AccountStatusMiddleware:
    """Log out any authenticated user whose account is not active (services also end sessions at once)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) and (
            user.is_system or not user.is_active or user.status != Status.ACTIVE
        ):
            logout(request)
        return self.get_response(request)
