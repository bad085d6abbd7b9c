"""`Authorization: Bearer <key>` or `Authorization: Token <key>` (the brief's spelling): an API key."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .services import authenticate_key

SCHEMES = (b"bearer", b"token")
# One answer for a key that is unknown, revoked, expired or malformed: it says nothing about which.
INVALID_KEY = "Invalid API key."


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None  # not ours: another class (the session) may authenticate the request
        if len(parts) != 2:
            raise AuthenticationFailed(INVALID_KEY)
        try:
            presented = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(INVALID_KEY) from None
        api_key = authenticate_key(presented)
        if api_key is None:
            raise AuthenticationFailed(INVALID_KEY)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
