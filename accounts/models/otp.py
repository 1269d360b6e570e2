"""SMS one-time codes: django-otp's side-channel device, throttled, with each code bound to one login attempt."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import SideChannelDevice, ThrottlingMixin

from accounts.models.user import mobile_validator


class SMSDevice(ThrottlingMixin, SideChannelDevice):
    """A mobile number that receives 6-digit codes (SECURITY.md §OTP: a restricted authenticator).

    `throttling_failure_count` (ThrottlingMixin) counts failed tries within one login attempt: a new
    code for the same attempt keeps the count; a new attempt (which needs the password again) or a
    success resets it.
    """

    number = models.CharField(_("mobile number"), max_length=13, validators=[mobile_validator])
    attempt_id = models.CharField(max_length=64, blank=True, editable=False)

    class Meta(SideChannelDevice.Meta):
        verbose_name = _("SMS device")
        verbose_name_plural = _("SMS devices")

    def get_throttle_factor(self) -> int:
        return 1
