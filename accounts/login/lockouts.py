"""django-axes hooks: a locked account gets exactly the page any other failure gets, at one query per check."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username
from axes.models import AccessAttempt


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: keep the login view's own (generic) response, so a lock is not an oracle."""
    return original_response


def widest_parameter_sets(sets: list[dict]) -> list[dict]:
    """The lockout parameter sets that no other set matches more rows than (in their order, once each).

    A set that only adds conditions to another (username + IP beside username) matches a subset of
    its rows. Failure counts are never negative, so its sum is never the larger one, and deleting by
    the wider set already deletes its rows.
    """
    return [
        mine
        for i, mine in enumerate(sets)
        if not any(other.items() < mine.items() or (other == mine and j < i) for j, other in enumerate(sets))
    ]


class AxesHandler(AxesDatabaseHandler):
    """AXES_HANDLER: django-axes' database handler without the queries that cannot change its answer.

    Axes sums the failures matching each set of AXES_LOCKOUT_PARAMETERS and locks when the largest
    sum reaches the limit; a reset deletes what each set matches. Only the widest sets are queried
    (`widest_parameter_sets`), which gives the same largest sum and deletes the same rows for any
    parameter list: with ours, username and (username, IP), one query per lock check instead of two.
    """

    def filter_user_attempts(self, request, credentials: dict | None = None) -> list:
        username = get_client_username(request, credentials)
        sets = get_client_parameters(username, request.axes_ip_address, request.axes_user_agent, request, credentials)
        return [AccessAttempt.objects.filter(**kwargs) for kwargs in widest_parameter_sets(sets)]
