"""A throwaway service account, the OAuth2 JWT-bearer token exchange, and bearer-token checks."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600
CLOCK_SKEW = 300


class AuthError(Exception):
    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class ServiceAccount:
    def __init__(self, project_id: str, token_uri: str):
        self.project_id = project_id
        self.token_uri = token_uri
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)
        self.client_email = f"sandbox-runner@{project_id}.iam.gserviceaccount.com"
        self.client_id = str(secrets.randbelow(10**20))

    def info(self) -> dict:
        pem = self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "",
            "universe_domain": "googleapis.com",
        }

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.info(), indent=2))
        path.chmod(0o600)
        return path

    def verify_assertion(self, assertion: str) -> dict:
        """Verify an RS256 JWT assertion signed with this account's key; return its claims."""
        try:
            head_b64, claims_b64, sig_b64 = assertion.split(".")
            header = json.loads(_b64url_decode(head_b64))
            claims = json.loads(_b64url_decode(claims_b64))
            signature = _b64url_decode(sig_b64)
        except (ValueError, TypeError):
            raise AuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                                             "reasonable timeframe.") from None
        if header.get("alg") != "RS256":
            raise AuthError("invalid_grant", "Invalid JWT Signature.")
        try:
            self.key.public_key().verify(signature, f"{head_b64}.{claims_b64}".encode(), padding.PKCS1v15(),
                                         hashes.SHA256())
        except InvalidSignature:
            raise AuthError("invalid_grant", "Invalid JWT Signature.") from None
        if header.get("kid") not in (None, self.key_id):
            raise AuthError("invalid_grant", "Invalid grant: account not found")
        if claims.get("iss") != self.client_email:
            raise AuthError("invalid_grant", "Invalid grant: account not found")
        # google-auth signs for Google's token endpoint whatever token_uri says; accept both.
        if claims.get("aud") not in (self.token_uri, "https://oauth2.googleapis.com/token",
                                     "https://www.googleapis.com/oauth2/v4/token"):
            raise AuthError("invalid_grant", "Invalid JWT: Audience does not match the token endpoint.")
        now = time.time()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)) or exp < now - CLOCK_SKEW \
                or iat > now + CLOCK_SKEW or exp - iat > 3600 + CLOCK_SKEW:
            raise AuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                                             "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        if not claims.get("scope") and not claims.get("target_audience"):
            raise AuthError("invalid_scope", "Empty or missing scope not allowed.")
        return claims


class TokenStore:
    def __init__(self):
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, lifetime: int = TOKEN_LIFETIME) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = time.time() + lifetime
        return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > time.time()

    def check_header(self, authorization: str | None) -> bool:
        if not authorization:
            return False
        scheme, _, token = authorization.strip().partition(" ")
        return scheme.lower() == "bearer" and self.valid(token.strip())
