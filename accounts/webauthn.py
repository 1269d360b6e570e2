"""django-otp-webauthn's helper, set to Prahari's relying party and to the clone check of SECURITY.md.

The library verifies the signature, the challenge, the origin and the relying party; here the sign count is
compared after the signature is proven (the library compares it first, so a forged low count could not be told
from a cloned authenticator), and only confirmed passkeys are offered or accepted.
"""

from __future__ import annotations

from django.conf import settings
from django_otp_webauthn import exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import as_credential_descriptors
from django_otp_webauthn.utils import get_credential_model
from webauthn import base64url_to_bytes, verify_authentication_response
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.structs import UserVerificationRequirement


class SignCountWentBack(Exception):
    """The authenticator's signature is right but its sign count is not above the last one: a copy of it exists."""

    def __init__(self, credential, *, seen: int, known: int):
        super().__init__(f"sign count {seen} not above {known}")
        self.credential, self.seen, self.known = credential, seen, known


class PrahariWebAuthnHelper(WebAuthnHelper):
    def get_relying_party_domain(self) -> str:
        return settings.PRAHARI_WEBAUTHN_RP_ID

    def get_allowed_origins(self) -> list[str]:
        return list(settings.PRAHARI_WEBAUTHN_ORIGINS)

    def get_generate_registration_options_kwargs(self, *, user) -> dict:
        options = super().get_generate_registration_options_kwargs(user=user)
        options["exclude_credentials"] = _descriptors(user)
        # The person proves a PIN or biometric to the authenticator: a passkey stands in for a code, so it asks
        # for the same "something you have" plus what unlocks it.
        options["authenticator_selection"].user_verification = UserVerificationRequirement.REQUIRED
        return options

    def get_generate_authentication_options_kwargs(self, *, user=None, require_user_verification: bool) -> dict:
        options = super().get_generate_authentication_options_kwargs(
            user=None, require_user_verification=require_user_verification
        )
        options["allow_credentials"] = _descriptors(user)
        return options

    def authenticate_complete(self, user, state: dict, data: dict):
        """Verify an assertion of `user`'s confirmed passkey; return the passkey with its new sign count (unsaved).

        Raises the library's exceptions (CredentialNotFound, CredentialUserMismatch), py_webauthn's
        InvalidAuthenticationResponse, or SignCountWentBack.
        """
        parsed = parse_authentication_credential_json(data)
        model = get_credential_model()
        credential = model.objects.filter(
            credential_id_sha256=model.get_credential_id_sha256(parsed.raw_id), confirmed=True
        ).first()
        if credential is None:
            raise exceptions.CredentialNotFound()
        if credential.user_id != user.pk:
            raise exceptions.CredentialUserMismatch()
        verified = verify_authentication_response(
            credential=parsed,
            credential_current_sign_count=0,  # compared below, once the signature is proven
            credential_public_key=credential.public_key,
            expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=self.get_relying_party_domain(),
            expected_origin=self.get_allowed_origins(),
            require_user_verification=state["require_user_verification"],
        )
        seen, known = verified.new_sign_count, credential.sign_count
        if (seen or known) and seen <= known:
            raise SignCountWentBack(credential, seen=seen, known=known)
        credential.sign_count = seen
        credential.backup_state = verified.credential_backed_up
        return credential


def _descriptors(user) -> list:
    if user is None:
        return []
    model = get_credential_model()
    return as_credential_descriptors(model.objects.filter(user=user, confirmed=True).order_by("-last_used_at"))
