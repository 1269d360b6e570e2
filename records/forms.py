"""Forms of the record pages. Validation of the search key is the service's (search_key_parse)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.forms import CodeField, CodeInput
from records.keys import LookupRefused, Purpose, SearchKey, search_key_parse
from records.services import REVEALABLE

REVEAL_LABELS = {"id_number": _("Identity document number"), "mobile": _("Mobile number")}


class PurposeForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose of this look-up"), choices=[("", "—"), *Purpose.choices])


class SearchForm(PurposeForm):
    reference_id = forms.CharField(
        label=_("Reference id"),
        max_length=40,
        required=False,
        help_text=_("14 digits. Or leave it empty and give the mobile number and full name."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    name = forms.CharField(
        label=_("Full name"), max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )

    key: SearchKey | None = None

    def clean(self):
        data = super().clean()
        try:
            self.key = search_key_parse(
                reference_id=data.get("reference_id", ""), mobile=data.get("mobile", ""), name=data.get("name", "")
            )
        except LookupRefused as error:
            raise forms.ValidationError(str(error), code="lookup") from None
        return data


class RevealForm(PurposeForm):
    field = forms.ChoiceField(label=_("Field to reveal"), choices=[(f, REVEAL_LABELS[f]) for f in REVEALABLE])
    reason = forms.CharField(
        label=_("Why you need it"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].widget = forms.HiddenInput()


class ConsentCodeForm(PurposeForm):
    """The code the beneficiary read out from their SMS (records/consent_gate.py), or a request to send one."""

    code = CodeField(
        label=_("Code from the beneficiary's SMS"),
        required=False,
        widget=CodeInput(attrs={"autofocus": True}),
        help_text=_("6 digits. Ask the beneficiary to read it out from the SMS on their phone."),
    )
    send = forms.BooleanField(required=False, widget=forms.HiddenInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].widget = forms.HiddenInput()

    def clean(self):
        data = super().clean()
        if not data.get("send") and not data.get("code") and "code" not in self.errors:
            self.add_error("code", forms.ValidationError(_("Type the code the beneficiary received."), code="required"))
        return data
