"""Forms of the login flow and the worker's own pages. Every page works without JavaScript."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.services.otp import METHODS

OTP_METHOD_LABELS = {
    "totp": _("Authenticator app"),
    "sms": _("SMS code"),
    "email": _("E-mail code"),
    "backup": _("Backup code"),
}


class PasswordForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))
    # Long passphrases are welcome (128 accepted); the cap only stops hashing megabytes.
    password = forms.CharField(label=_("Password"), max_length=1024, strip=False, widget=forms.PasswordInput)


class OTPForm(forms.Form):
    method = forms.ChoiceField(label=_("Code from"), choices=[(m, OTP_METHOD_LABELS[m]) for m in METHODS])
    token = forms.CharField(
        label=_("One-time code"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}),
    )

    def __init__(self, *args, methods: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["method"].choices = [(m, OTP_METHOD_LABELS[m]) for m in methods]


class CodeForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        min_length=3,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the account's history and shown to auditors."),
    )
