"""The domain errors of account governance. Views and admin actions turn them into clear messages."""


class DomainError(Exception):
    """A governance rule refused the request; `str(error)` is a message fit to show the user."""


class IllegalTransition(DomainError):
    """The account's current status does not allow the requested change."""


class NotPermitted(DomainError):
    """The actor may not do this to this account (role, jurisdiction or separation of duties)."""
