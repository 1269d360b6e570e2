"""The login gate's password check, on the account the gate has already read."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class GateAccountBackend:
    """In AUTHENTICATION_BACKENDS between django-axes' backend and ModelBackend.

    `flow.password_check` reads the account (with its hold flag) before the password, and passes it
    as `account`: this backend checks the password on it, as ModelBackend would after reading the
    same account a second time. Its answer is final: a wrong password or an inactive account stops
    authentication (PermissionDenied, so ModelBackend does not hash the password again), and Django
    then sends user_login_failed, which django-axes counts, exactly as when ModelBackend refuses.
    Without `account` (any other caller) it passes, and ModelBackend answers as before.
    """

    def authenticate(self, request, username=None, password=None, account=None, **kwargs):
        if account is None or password is None or account.get_username() != username:
            return None
        if account.check_password(password) and account.is_active:
            return account
        raise PermissionDenied

    async def aauthenticate(self, request, **kwargs):
        return None  # the login gate is synchronous: ModelBackend answers any asynchronous caller
