"""What the API accepts in a text field, written once as a regular expression that the server enforces and the
OpenAPI schema publishes, so a client (or a schema fuzzer) can know before sending whether a value will pass.

The expressions mean the same in Python's `re` and in ECMA-262 (the dialect of JSON Schema's `pattern`): only
explicit character classes with \\xHH and \\uHHHH escapes, no `\\s`, whose meaning differs between the two. Each
runs in linear time (the first visible character is found without backtracking), so a 5000-character script cannot
be used to burn CPU.
"""

from __future__ import annotations

from django.core.validators import RegexValidator

# C0 and C1 control characters but tab, line feed and carriage return; DEL.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Lone UTF-16 surrogates: no text encoding can store them (PostgreSQL refuses them).
_SURROGATES = r"\ud800-\udfff"
# Characters that are allowed but show nothing: tab, newlines, the Unicode spaces, the byte-order mark.
_BLANK = r"\t\n\r\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# Any text without control characters, possibly empty.
PLAIN_TEXT_PATTERN = rf"^[^{_CONTROL}{_SURROGATES}]*$"
# The same, with at least one visible character: leading blanks, a visible character, then anything allowed.
VISIBLE_TEXT_PATTERN = rf"^[{_BLANK}]*[^{_BLANK}{_CONTROL}{_SURROGATES}][^{_CONTROL}{_SURROGATES}]*$"

plain_text = RegexValidator(PLAIN_TEXT_PATTERN, "Control characters are not allowed.", code="control_characters")
visible_text = RegexValidator(VISIBLE_TEXT_PATTERN, "Must contain visible text, without control characters.",
                              code="not_visible_text")
