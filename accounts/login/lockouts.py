"""django-axes hooks: a locked account gets exactly the page any other failure gets, at one query per check."""

from __future__ import annotations

import logging

from axes.attempts import get_cool_off_threshold
from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_str, get_client_username
from axes.models import AccessAttempt

log = logging.getLogger("axes.handlers.database")  # where axes logs what it handles
FAILURES_SEEN = "prahari_axes_failures"  # request attribute: (username, failures) of the last count axes made
FAILURES_READ = "prahari_axes_failures_read"  # request attribute: (username, since, failures) read with the account


def failures_read(request, *, username: str, since, failures: int) -> None:
    """Leave the count of `username`'s failures since `since`, read with the account, for the next lock check.

    That check takes it instead of counting again (once: it is gone after one lock check, or when a
    failure is recorded, after which axes counts anew).
    """
    setattr(request, FAILURES_READ, (username, since, failures))


def failures_seen(request, username: str) -> int | None:
    """How many failures axes last counted for `username` in this request (its lock check), or None if it did not."""
    seen = getattr(request, FAILURES_SEEN, None)
    return seen[1] if seen is not None and seen[0] == username else None


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """AXES_CLIENT_STR_CALLABLE: how axes names a client in its log lines. Its own names the path, which on
    some pages holds a token (a reset link); this names the route. Username and address are masked anyway
    (AXES_SENSITIVE_PARAMETERS); the account event of each failure says who and from where."""
    match = getattr(request, "resolver_match", None)
    return f'{{route: "{match.view_name if match is not None else "unmatched"}"}}'


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
    At a login it skips the one query axes would make there with our settings (`user_logged_in`), and
    a lock check that follows the gate's read of the account takes the count read with it (`failures_read`).
    """

    def filter_user_attempts(self, request, credentials: dict | None = None) -> list:
        username = get_client_username(request, credentials)
        sets = get_client_parameters(username, request.axes_ip_address, request.axes_user_agent, request, credentials)
        return [AccessAttempt.objects.filter(**kwargs) for kwargs in widest_parameter_sets(sets)]

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """Axes' count (or the one `failures_read` left, when it is the same count), also left on the request
        (`failures_seen`) when it covers every attempt of the username.

        A login whose lock check counted none needs no reset. Axes counts again after every failure it
        records, so the count left is never older than the last failure of the request.
        """
        username = get_client_username(request, credentials)
        sets = get_client_parameters(username, request.axes_ip_address, request.axes_user_agent, request, credentials)
        read = vars(request).pop(FAILURES_READ, None)
        if read is not None and _read_answers(request, read, username, sets):
            failures = read[2]
        else:
            failures = super().get_failures(request, credentials)
        if {"username": username} in sets:  # not only (username, IP): the count is the username's whole count
            setattr(request, FAILURES_SEEN, (username, failures))
        return failures

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """Axes' handling of a failure, after which a count read earlier in the request no longer holds."""
        if request is not None:
            vars(request).pop(FAILURES_READ, None)
        return super().user_login_failed(sender, credentials, request=request, **kwargs)

    def user_logged_in(self, sender, request, user, **kwargs):
        """Log the login as axes does, without deleting expired attempts: a query that never changes a lock.

        With no access log (AXES_DISABLE_ACCESS_LOG) and the reset done by `login_failures_reset`
        instead of AXES_RESET_ON_SUCCESS, that clean-up is all axes does at a login. Expired attempts
        are never counted, and axes deletes them before it records any failure (and at each logout).
        Other settings get axes' own handling.
        """
        if not settings.AXES_DISABLE_ACCESS_LOG or settings.AXES_RESET_ON_SUCCESS:
            return super().user_logged_in(sender, request, user, **kwargs)
        client = get_client_str(
            user.get_username(), request.axes_ip_address, request.axes_user_agent, request.axes_path_info, request
        )
        log.info("AXES: Successful login by %s.", client)
        return None


def _read_answers(request, read: tuple, username: str, sets: list[dict]) -> bool:
    """Whether a count left by `failures_read` is the one axes would make now: the same username and
    cool-off threshold, and the username alone the widest parameter set (what the read sums)."""
    return (
        read[0] == username
        and widest_parameter_sets(sets) == [{"username": username}]
        and read[1] == get_cool_off_threshold(request)
    )
