"""A managed job's secrets at rest: sealed with a key only this stix home holds (0600), never plain text."""

from __future__ import annotations

import base64
import hashlib
import json

from stix.home import StixHome


def _fernet(home: StixHome):
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"stix-managed-secrets\0" + home.passphrase().encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(home: StixHome, values: dict[str, str]) -> bytes:
    return _fernet(home).encrypt(json.dumps(values).encode())


def unseal(home: StixHome, token: bytes) -> dict[str, str]:
    return json.loads(_fernet(home).decrypt(token))
