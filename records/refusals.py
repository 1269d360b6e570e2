"""The read path's refusals (records/services.py, records/consent_gate.py): DomainErrors whose message the
page shows. A missing record and one out of the viewer's scope share one refusal, RecordUnavailable."""

from __future__ import annotations

from accounts.exceptions import DomainError


class RecordUnavailable(DomainError):
    """No record matches, or it is outside the viewer's scope: the two are answered alike."""


class BudgetExhausted(DomainError):
    """The viewer used today's look-ups."""


class RevealRefused(DomainError):
    """A reveal was refused: today's reveals are used up."""


class StepUpRequired(DomainError):
    """A reveal needs an OTP proven within PRAHARI_STEP_UP_MINUTES."""


class AccessInterrupted(DomainError):
    """The account was suspended by this request (canary); the caller ends the session and says nothing more."""


class AccessLogUnavailable(DomainError):
    """The access event could not be written, so nothing is shown."""


class ConsentRequired(DomainError):
    """The record opens for this purpose only with the code sent to the beneficiary's mobile (`mobile`, masked);
    `status`: the HTTP status of the page that asks for it; `waiting`: a code was sent and can be typed now."""

    def __init__(self, message: str, *, mobile: str, status: int = 200, waiting: bool = True) -> None:
        super().__init__(message)
        self.mobile, self.status, self.waiting = mobile, status, waiting
