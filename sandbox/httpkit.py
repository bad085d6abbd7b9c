"""Tiny request/response types shared by the provider modules and the HTTP server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict  # lower-cased names
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    def json(self):
        return json.loads(self.body.decode("utf-8") or "null")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)


@dataclass
class Hang:
    """Hold the connection open for `seconds`, then close it without answering."""
    seconds: float


def json_response(status: int, payload, headers: dict | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), {"Content-Type": "application/json; charset=utf-8",
                                                           **(headers or {})})
