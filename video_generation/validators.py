"""What the API accepts in a text field or a URL, written once as a regular expression that the server enforces and
the OpenAPI schema publishes, so a client (or a schema fuzzer) can know before sending whether a value will pass.

The expressions mean the same in Python's `re` and in ECMA-262 (the dialect of JSON Schema's `pattern`): only
explicit character classes with \\xHH and \\uHHHH escapes, no `\\s`, whose meaning differs between the two. Each
runs in linear time (the first visible character is found without backtracking), so a 5000-character script cannot
be used to burn CPU. (Lone UTF-16 surrogates, which no database can store, never get this far: the JSON parser
refuses them as invalid Unicode.)
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from .services.overlay import drawable_pattern, refusal
from .services.safe_http import INTERNAL_SUFFIXES, METADATA_HOSTS, UnsafeUrl, check_submitted_url

# C0 and C1 control characters but tab, line feed and carriage return; DEL.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Characters that are allowed but show nothing: tab, newlines, the Unicode spaces, the byte-order mark.
_BLANK = r"\t\n\r\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# Any text without control characters, possibly empty.
PLAIN_TEXT_PATTERN = rf"^[^{_CONTROL}]*$"
# The same, with at least one visible character: leading blanks, a visible character, then anything allowed.
VISIBLE_TEXT_PATTERN = rf"^[{_BLANK}]*[^{_BLANK}{_CONTROL}][^{_CONTROL}]*$"

# An Idempotency-Key header: 1 to 255 printable ASCII characters, not starting or ending with a space (HTTP servers
# strip those, so they could not be told apart).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"

class DrawableTextValidator(RegexValidator):
    """On-screen text the compositor can draw in its font (services/overlay.py states the rule): its pattern is
    published; a refusal names the characters."""

    def __call__(self, value):
        problem = refusal(str(value))
        if problem:
            raise ValidationError(problem, code=self.code)


drawable_text = DrawableTextValidator(drawable_pattern(), "Characters the on-screen font cannot draw.",
                                      code="undrawable_characters")

plain_text = RegexValidator(PLAIN_TEXT_PATTERN, "Control characters are not allowed.", code="control_characters")
visible_text = RegexValidator(VISIBLE_TEXT_PATTERN, "Must contain visible text, without control characters.",
                              code="not_visible_text")


# --- URLs we will request (the product image, the webhook) ----------------------------------------------------------

# The last labels of host names that only exist inside private networks or at a cloud's metadata server, as the
# request rule (services/safe_http.py) lists them: the pattern refuses the whole top-level name.
PRIVATE_SUFFIXES = tuple(sorted({name.rsplit(".", 1)[-1] for name in (*INTERNAL_SUFFIXES, *METADATA_HOSTS)
                                 if "." in name}))
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


def _any_case(word: str) -> str:
    return "".join(f"[{letter.lower()}{letter.upper()}]" for letter in word)


_PRIVATE_END = "|".join(_any_case(suffix) for suffix in PRIVATE_SUFFIXES)
# End of the value, in both dialects: Python's `$` also matches before a final line feed, so one is refused.
_END = r"$(?!\n)"
# http(s), a public host name (at most 253 characters, at least two labels, the last one letters: so never an IP
# address, a single-label name or a private suffix), port 80 or 443 if any, then printable ASCII.
PUBLIC_URL_PATTERN = (
    r"^https?://"
    r"(?![A-Za-z0-9.-]{254})"
    rf"(?![A-Za-z0-9.-]*\.(?:{_PRIVATE_END})(?:[:/?#]|{_END}))"
    rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}"
    r"(?::(?:80|443))?"
    rf"(?:[/?#][\x21-\x7e]*)?{_END}"
)
# With ALLOW_PRIVATE_URLS (local runs, the sandbox on loopback): any http(s) URL of printable ASCII; the request
# rule (services/safe_http.py) still refuses credentials and metadata servers.
LOCAL_URL_PATTERN = rf"^https?://[\x21-\x7e]+{_END}"
PUBLIC_URL_MESSAGE = ("Enter an http or https URL with a public host name (not an IP address), on port 80 or 443 if "
                      "any, in printable ASCII (an international domain name in its xn-- form).")


def url_pattern() -> str:
    return LOCAL_URL_PATTERN if settings.ALLOW_PRIVATE_URLS else PUBLIC_URL_PATTERN


def public_url(value: str) -> None:
    """A URL we may request: first the request rule's own, more specific refusals, then the published pattern."""
    try:
        check_submitted_url(value)
    except UnsafeUrl as exc:
        raise ValidationError(exc.message, code="unsafe_url") from None
    if not re.search(url_pattern(), value):
        raise ValidationError(PUBLIC_URL_MESSAGE, code="not_a_public_url")
