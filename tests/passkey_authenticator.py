"""A software WebAuthn authenticator for tests that post to the views: real P-256 keys, real signatures.

It answers the options the server gave (its challenge) as a browser would, for an origin the test chooses, so
the server's whole verification (py_webauthn through django-otp-webauthn) runs. The browser journeys use
Chromium's own virtual authenticator instead (tests/browser/test_passkey_journeys.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
UP, UV, AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    def __init__(self, *, rp_id: str = RP_ID):
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = 0

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _auth_data(self, flags: int, extra: bytes = b"") -> bytes:
        return (
            hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count) + extra
        )

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def create(self, options: dict, *, origin: str = ORIGIN) -> str:
        """The JSON a browser posts after `navigator.credentials.create` with `options`."""
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = self._auth_data(UP | UV | AT, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64(client_data),
                    "attestationObject": b64(attestation),
                    "transports": ["internal"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(self, options: dict, *, origin: str = ORIGIN, sign_count: int | None = None, forge: bool = False) -> str:
        """The JSON a browser posts after `navigator.credentials.get`; the count goes up by one unless given.
        `forge`: a wrong signature (someone without the key)."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        auth_data = self._auth_data(UP | UV)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        if forge:
            signature = ec.generate_private_key(ec.SECP256R1()).sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64(self.credential_id),
                "rawId": b64(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64(client_data),
                    "authenticatorData": b64(auth_data),
                    "signature": b64(signature),
                    "userHandle": None,
                },
                "clientExtensionResults": {},
            }
        )


def register(user, authenticator: SoftAuthenticator | None = None, *, name: str = "Office key"):
    """Register a passkey for `user` through the service; return (passkey, authenticator)."""
    from accounts.services.passkeys import passkey_registration_begin, passkey_registration_complete

    authenticator = authenticator or SoftAuthenticator()
    options, state = passkey_registration_begin(user=user)
    passkey = passkey_registration_complete(
        user=user, state=state, data=authenticator.create(options), name=name, ip="10.0.0.1"
    )
    return passkey, authenticator
