"""The API's only request parser: JSON objects and arrays no deeper than REQUEST_MAX_JSON_DEPTH.

Python's json module recurses once per nesting level and gives up with RecursionError near a thousand levels;
here every parse failure, however deep, is a 400 naming the body.
"""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class InvalidBody(ParseError):
    """400 {"error": "Invalid JSON", "details": {"body": [why]}}."""

    default_detail = "Invalid JSON"


def nesting_depth(value) -> int:
    """How deeply objects and arrays nest in a parsed JSON value, found without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def has_lone_surrogate(value) -> bool:
    """True if a string anywhere in the parsed value holds half of a UTF-16 pair (only JSON escapes make one)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""  # bounded: RequestBodyLimitMiddleware checked the length
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise InvalidBody(f"The body is not valid {encoding} text.") from None
        too_deep = InvalidBody(f"JSON nested deeper than {settings.REQUEST_MAX_JSON_DEPTH} levels is not accepted.")
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:
            raise InvalidBody(f"The body is not valid JSON: {exc}") from None
        if nesting_depth(data) > settings.REQUEST_MAX_JSON_DEPTH:
            raise too_deep
        if "\\u" in text and has_lone_surrogate(data):
            raise InvalidBody("The body contains an unpaired UTF-16 surrogate (\\ud800-\\udfff), which is not text.")
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
