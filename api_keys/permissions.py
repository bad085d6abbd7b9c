"""Scopes: a view names the one it needs (`required_scope`); a request made with a key needs that scope.

A view that names none is open only to unrestricted keys (fail closed); `ANY_SCOPE` opens it to every key. A view
whose methods differ names them in `required_scope_by_method` (e.g. {"DELETE": None}: erasing the account needs an
unrestricted key, reading it `account:read`).
Requests authenticated otherwise (the admin's session) are not limited by scopes.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from .models import ApiKey

ANY_SCOPE = "*"


class KeyHasScope(BasePermission):
    message = "This API key lacks the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        scope = required_scope(request, view)
        if scope == ANY_SCOPE:
            return True
        if scope is None:
            self.message = "This endpoint needs an API key with every scope."
            return not api_key.scopes
        self.message = f"This API key lacks the scope this endpoint needs ({scope})."
        return api_key.allows(scope)


def required_scope(request, view) -> str | None:
    by_method = getattr(view, "required_scope_by_method", {})
    if request.method in by_method:
        return by_method[request.method]
    return getattr(view, "required_scope", None)
