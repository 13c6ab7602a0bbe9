"""Encryption at rest for integration secrets and platform credentials, and token hashing.

Signing secrets must be readable to verify HMACs, so they are encrypted (Fernet, keyed from
SECRET_KEY) rather than hashed. API tokens are only ever compared, so only their SHA-256 is kept.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

API_TOKEN_PREFIX = "rw_"


class SecretBox:
    """Encrypts and decrypts small JSON values with a key derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"roomwise-at-rest:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, sealed: str, default: Any = None) -> Any:
        """Decrypt `sealed`; an empty string gives `default`."""
        if not sealed:
            return default
        try:
            return json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as err:
            raise ValueError("stored secret cannot be decrypted: was SECRET_KEY changed?") from err


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_integration_key() -> str:
    """The unguessable webhook URL segment (the only secret for platforms that do not sign)."""
    return secrets.token_urlsafe(24)
