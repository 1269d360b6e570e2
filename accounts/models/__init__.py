from accounts.models.alerts import Alert
from accounts.models.devices import RegisteredDevice
from accounts.models.events import AccountEvent, AccountEventType
from accounts.models.jurisdiction import District, Facility, State
from accounts.models.lockouts import LoginHold
from accounts.models.notifications import Notification
from accounts.models.onboarding import Invitation, Undertaking, UndertakingAcceptance
from accounts.models.otp import SMSDevice
from accounts.models.sessions import UserSession
from accounts.models.user import FLAGGED_CAUSES, Role, Status, SuspensionCause, User

__all__ = [
    "FLAGGED_CAUSES",
    "AccountEvent",
    "AccountEventType",
    "Alert",
    "District",
    "Facility",
    "Invitation",
    "LoginHold",
    "Notification",
    "RegisteredDevice",
    "Role",
    "SMSDevice",
    "State",
    "Status",
    "SuspensionCause",
    "Undertaking",
    "UndertakingAcceptance",
    "User",
    "UserSession",
]
