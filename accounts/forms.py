"""Forms of the login flow and the worker's own pages. Every page works without JavaScript."""

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.services.otp import METHODS

PASSWORD_MAX = 1024  # long passphrases are welcome (128 accepted); the cap only stops hashing megabytes

OTP_METHOD_LABELS = {
    "totp": _("Authenticator app"),
    "sms": _("SMS code"),
    "email": _("E-mail code"),
    "backup": _("Backup code"),
}


class PasswordForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, widget=forms.TextInput(attrs={"autofocus": True}))
    password = forms.CharField(label=_("Password"), max_length=PASSWORD_MAX, strip=False, widget=forms.PasswordInput)


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
        self.offer(methods)

    def offer(self, methods: list[str]) -> None:
        """The methods to choose from: the account's devices (`login_otp_devices`)."""
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


def _password_field(label, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=PASSWORD_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": kwargs.pop("autocomplete", "new-password")}),
        **kwargs,
    )


class NewPasswordMixin(forms.Form):
    new_password1 = _password_field(_("New password"), help_text=_("At least 10 characters; a long phrase is good."))
    new_password2 = _password_field(_("New password again"))

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", gettext("The two new passwords are not the same."))
        return cleaned


class PasswordChangeForm(NewPasswordMixin):
    old_password = _password_field(_("Current password"), autocomplete="current-password")
    field_order = ["old_password", "new_password1", "new_password2"]


class PasswordResetRequestForm(forms.Form):
    username_or_email = forms.CharField(
        label=_("Username or e-mail address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )


class PasswordResetConfirmForm(NewPasswordMixin, OTPForm):
    field_order = ["new_password1", "new_password2", "method", "token"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["token"].widget.attrs.pop("autofocus", None)

    def clean_new_password1(self):
        password = self.cleaned_data["new_password1"]
        password_validation.validate_password(password, self.user)  # before a code is spent on it
        return password

    def clean_token(self):
        token = self.cleaned_data.get("token", "")
        if not token.strip():
            raise forms.ValidationError(gettext("Enter the one-time code."))
        return token


class MobileForm(forms.Form):
    new_mobile = forms.CharField(
        label=_("New mobile number"),
        max_length=20,
        help_text=_("+91 followed by 10 digits. We send a code to it before it is used."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+91"}),
    )


class SMSCodeForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the SMS"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class EnrolForm(forms.Form):
    """Enrolment from an invitation link: password, one authenticator, and the undertaking, in one form."""

    password1 = forms.CharField(
        label=_("Choose a password"),
        max_length=PASSWORD_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password; not like your name or mobile number."),
    )
    password2 = forms.CharField(
        label=_("The same password again"),
        max_length=PASSWORD_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    method = forms.ChoiceField(
        label=_("Your one-time codes come from"),
        choices=[("totp", _("Authenticator app")), ("sms", _("SMS code"))],
        widget=forms.RadioSelect,
        initial="totp",
    )
    token = forms.CharField(
        label=_("One-time code"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
    undertaking_version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(label=_("I have read the data-use undertaking and I accept it."))

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", gettext("The two passwords are not the same."))
        return data


class ReconfirmForm(OTPForm):
    """Re-confirmation at login after a review: a fresh code and the undertaking the page showed."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(label=_("I have read the undertaking above and I accept it."))
    field_order = ["accept", "method", "token", "version"]

    def clean_token(self):
        token = self.cleaned_data.get("token", "")
        if not token.strip():
            raise forms.ValidationError(gettext("Enter the one-time code."))
        return token
