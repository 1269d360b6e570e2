"""Forms of the login flow and the worker's own pages. Every page works without JavaScript."""

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

PASSWORD_MAX = 1024  # long passphrases are welcome (128 accepted); the cap only stops hashing megabytes

OTP_METHOD_LABELS = {
    "totp": _("Authenticator app"),
    "sms": _("SMS code"),
    "email": _("E-mail code"),
    "backup": _("Backup code"),
}


class PasswordForm(forms.Form):
    """The login's first step. The autocomplete hints let password managers fill both fields (ASVS V6.2.7)."""

    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=PASSWORD_MAX,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


CODE_DIGITS = 6  # every code sent or shown by an authenticator (SECURITY.md §OTP)
NUMERIC_METHODS = ("totp", "sms", "email")
BACKUP_CODE_MAX = 40  # 24 letters and digits, in groups of six; spaces or dashes as typed


class CodeInput(forms.TextInput):
    """The input of a code: never shows a typed code back. `numeric`: the phone's number pad and the keyboard's
    offer of the code from an SMS; otherwise letters and digits (backup codes)."""

    def __init__(self, attrs=None, *, numeric: bool = True):
        defaults = {"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        if numeric:
            defaults.update(inputmode="numeric", pattern=f"[0-9]{{{CODE_DIGITS}}}")
        else:
            defaults.update(inputmode="text", pattern="[A-Za-z0-9 \\-]{16,24}")
        super().__init__({**defaults, **(attrs or {})})

    def format_value(self, value):
        return None


class CodeField(forms.CharField):
    """A 6-digit code; spaces typed inside it are dropped."""

    default_error_messages = {"digits": _("A code is 6 digits. Type only the digits.")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", CODE_DIGITS)
        kwargs.setdefault("widget", CodeInput)
        super().__init__(**kwargs)

    def to_python(self, value):
        return "".join(super().to_python(value).split())

    def validate(self, value):
        super().validate(value)
        if value and not (value.isascii() and value.isdigit()):
            raise forms.ValidationError(self.error_messages["digits"], code="digits")


def _backup_code_field() -> forms.CharField:
    return forms.CharField(
        label=_("Backup code"),
        required=False,
        max_length=BACKUP_CODE_MAX,
        widget=CodeInput(numeric=False),
        help_text=_("One of the codes you printed or wrote down: letters and digits, each works once."),
    )


class OTPForm(forms.Form):
    """A one-time code: 6 digits from the chosen method, or a backup code in its own field (letters and digits,
    so the number pad never blocks it). After validation `method` is "backup" when a backup code was typed, and
    `token` holds the code either way."""

    method = forms.ChoiceField(label=_("Code from"), required=False)
    token = CodeField(label=_("One-time code"), required=False, widget=CodeInput(attrs={"autofocus": True}))
    backup_code = _backup_code_field()
    code_required = False  # an empty code is left to the view (at login it counts as a wrong one)

    def __init__(self, *args, methods: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and self.posted_method(self.data) == "backup":
            self.data = self.data.copy()
            self.data.pop("method", None)  # the select still posts its choice: a backup code stands alone
        self.offer(methods)

    def offer(self, methods: list[str]) -> None:
        """The methods to choose from: the account's devices (`login_otp_devices`)."""
        self.fields["method"].choices = [(m, OTP_METHOD_LABELS[m]) for m in methods if m in NUMERIC_METHODS]
        if "backup" not in methods:
            self.fields.pop("backup_code", None)

    @property
    def has_code_methods(self) -> bool:
        return bool(self.fields["method"].choices)

    @property
    def backup_field(self):
        return self["backup_code"] if "backup_code" in self.fields else None

    @staticmethod
    def posted_method(data) -> str | None:
        """The method a POST uses: "backup" when a backup code was typed, else the chosen one."""
        if "".join(str(data.get("backup_code", "")).split()):
            return "backup"
        return data.get("method")

    def clean(self):
        data = super().clean()
        backup = "".join((data.get("backup_code") or "").split())
        if backup:
            data["method"], data["token"] = "backup", backup
            return data
        if not data.get("method") and "method" not in self.errors:
            self.add_error("method" if self.has_code_methods else None, gettext("Enter the one-time code."))
        elif self.code_required and not data.get("token") and "token" not in self.errors:
            self.add_error("token", gettext("Enter the one-time code."))
        return data

    def code_error(self, message: str) -> None:
        """Say that the code was refused, beside the field it was typed in."""
        backup = self.cleaned_data.get("method") == "backup" and "backup_code" in self.fields
        self.add_error("backup_code" if backup else "token", message)


class CodeForm(forms.Form):
    token = CodeField(label=_("Code from your authenticator app"), widget=CodeInput(attrs={"autofocus": True}))


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        min_length=3,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Recorded in the account's history and shown to auditors."),
    )


class ReasonCodeForm(ReasonForm, OTPForm):
    """A change to someone's account on one page: the reason, and a fresh one-time code unless one was proven
    within the step-up window (`with_code` False). `with_reason` False: the code alone (a re-sent link)."""

    code_required = True
    field_order = ["reason", "method", "token", "backup_code"]

    def __init__(self, *args, methods: list[str], with_code: bool = True, with_reason: bool = True, **kwargs):
        super().__init__(*args, methods=methods if with_code else [], **kwargs)
        self.with_code = with_code
        self.sms_offered = with_code and "sms" in methods
        self.fields["token"].widget.attrs.pop("autofocus", None)
        if not with_code:
            for name in ("method", "token", "backup_code"):
                self.fields.pop(name, None)
        if not with_reason:
            del self.fields["reason"]

    def clean(self):
        return super().clean() if self.with_code else forms.Form.clean(self)


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
    field_order = ["new_password1", "new_password2", "method", "token", "backup_code"]
    code_required = True

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["token"].widget.attrs.pop("autofocus", None)

    def clean_new_password1(self):
        password = self.cleaned_data["new_password1"]
        password_validation.validate_password(password, self.user)  # before a code is spent on it
        return password


class MobileForm(forms.Form):
    new_mobile = forms.CharField(
        label=_("New mobile number"),
        max_length=20,
        help_text=_("+91 followed by 10 digits. We send a code to it before it is used."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+91"}),
    )


class SMSCodeForm(forms.Form):
    token = CodeField(label=_("Code from the SMS"))


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
    token = CodeField(label=_("One-time code"))
    undertaking_version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(label=_("I have read the data-use undertaking and I accept it."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password1(self):
        password = self.cleaned_data["password1"]
        password_validation.validate_password(password, self.user)  # with the other fields' errors, at once
        return password

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", gettext("The two passwords are not the same."))
        if data.get("token") and any(name != "token" for name in self.errors):
            # Checking a code may use it up: it is checked once everything else is right.
            self.add_error(
                "token",
                gettext("Not checked yet: correct the rest, then type the code again (it is checked last)."),
            )
        return data


class ReconfirmForm(OTPForm):
    """Re-confirmation after a review: the undertaking the page showed, and a fresh code unless the login's own
    code is still fresh (`with_code=False`: docs/onboarding.md, re-verification)."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(label=_("I have read the undertaking above and I accept it."))
    field_order = ["accept", "method", "token", "backup_code", "version"]
    code_required = True

    def __init__(self, *args, with_code: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_code = with_code
        if not with_code:
            for name in ("method", "token", "backup_code"):
                self.fields.pop(name, None)

    def clean(self):
        if not self.with_code:
            return forms.Form.clean(self)
        return super().clean()
