from accounts.models.events import AccountEvent, AccountEventType
from accounts.models.jurisdiction import District, Facility, State
from accounts.models.sessions import UserSession
from accounts.models.user import FLAGGED_CAUSES, Role, Status, SuspensionCause, User

__all__ = [
    "FLAGGED_CAUSES",
    "AccountEvent",
    "AccountEventType",
    "District",
    "Facility",
    "Role",
    "State",
    "Status",
    "SuspensionCause",
    "User",
    "UserSession",
]
