"""Forms of the beneficiary's transparency pages (/my-record/): what is well formed is the form's to say; whether it
matches a record is never said (records/transparency.py)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from records.keys import MOBILE, REFERENCE_ID


def _compact(value: str) -> str:
    return "".join((value or "").split())


class TransparencyAskForm(forms.Form):
    reference_id = forms.CharField(
        label=_("Reference id"),
        max_length=40,
        help_text=_("The 14 digits on your vaccination card or certificate."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        help_text=_("The number registered with your record."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def clean_reference_id(self) -> str:
        value = _compact(self.cleaned_data["reference_id"])
        if not REFERENCE_ID.fullmatch(value):
            raise forms.ValidationError(_("A reference id has exactly 14 digits."), code="reference_id")
        return value

    def clean_mobile(self) -> str:
        match = MOBILE.fullmatch(_compact(self.cleaned_data["mobile"]).replace("-", ""))
        if not match:
            raise forms.ValidationError(_("Enter the full 10-digit mobile number."), code="mobile")
        return f"+91{match.group(1)}"


class TransparencyCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the SMS"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]{6,8}"}
        ),
    )

    def clean_code(self) -> str:
        value = _compact(self.cleaned_data["code"])
        if not value.isascii() or not value.isdigit() or len(value) != 6:
            raise forms.ValidationError(_("The code has 6 digits."), code="code")
        return value
