"""One redaction rule for every provider error message and log line.

Provider errors are shown to users (`error_message`) and written to logs, and they quote whatever the provider
saw: signed URLs, headers, keys, our own tokens. Replacing each known secret exactly is not enough (an error that
quotes the first 20 characters of a bearer token still leaks 20 characters of it), so `redact` applies, in order:

1. every run of 8 or more characters that also occurs in a known secret goes: the `secrets` passed in and those
   configured in Django settings (`configured_secrets`);
2. PEM private-key blocks go;
3. the token of our signed `/media/<token>/<name>` links goes, and every http(s) URL keeps scheme://host/path
   only: its query string, fragment and user:password are replaced;
4. well-known secret shapes go wherever they appear: Google OAuth tokens, JWTs, Google API keys, Stripe keys
   and our own `vsk_` keys;
5. the credential after an HTTP auth scheme (`Bearer …`, `Token …`, `Basic …`) goes, the scheme stays;
6. the value of any credential-named parameter goes (`X-Goog-Signature=…`, `"api_key": "…"`, `token: …`,
   URL-encoded `…%3D…` too), the name stays.

Whatever is removed becomes `[redacted]`, and redacting twice changes nothing. `RedactingFormatter` applies the
rule to every formatted log record, tracebacks included.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

REDACTED = "[redacted]"

# The shortest secret fragment we remove. Shorter ones would match ordinary words and numbers.
MIN_FRAGMENT = 8

# Settings always treated as secrets; a list or tuple value (SECRET_KEY_FALLBACKS) counts item by item.
_CORE_SECRET_SETTINGS = ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "HEYGEN_API_KEY", "WEBHOOK_SECRET")

# Further settings that hold secrets: their values are redacted everywhere as well.
SECRET_SETTING_NAMES: tuple[str, ...] = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")

_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
    # up to its END line, or, when the text was cut short, over whatever base64 (and \n escapes) follows
    r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[A-Za-z0-9+/=\s\\]*)",
    re.DOTALL,
)

# A URL ends at whitespace, quotes, angle brackets and brackets (except a "[redacted]" already inside it), and
# where another URL starts; a backslash ends it only before a quote, so that JSON escapes (\u0026, \/) stay inside.
_URL_PATH = r"""(?:[^\s?#"'<>()\[\]{}\\h]++|h(?!ttps?:\\?/)|\[redacted\]|\\(?!["']))*+"""
_URL_QUERY = r"""(?:[^\s"'<>()\[\]{}\\h]++|h(?!ttps?:\\?/)|\[redacted\]|\\(?!["']))*+"""
_URL = re.compile(
    r"""(?P<scheme>https?:(?:\\?/){2})"""
    r"""(?P<userinfo>[^\s/?#@"'<>\\]+@)?"""
    rf"""(?P<hostpath>(?:\[[0-9A-Fa-f:.]+\])?{_URL_PATH})"""
    rf"""(?P<rest>[?#]{_URL_QUERY})?""",
    re.IGNORECASE,
)
_SENTENCE_PUNCTUATION = ".,;:!"

# Our download links: /media/<opaque token (downloads.py)>/<file name>. The token is the credential.
_MEDIA_TOKEN = re.compile(r"(?P<prefix>/media/)(?!\[redacted\])[A-Za-z0-9_=.:%\-]{16,}(?=/)", re.IGNORECASE)

_SECRET_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"ya29\.[A-Za-z0-9_.\-]+"  # Google OAuth access token
    r"|eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"  # JWT: header.payload.signature
    r"|AIza[0-9A-Za-z_\-]{35,}"  # Google API key (39 characters; what is glued to it goes too)
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]+"  # Stripe secret and restricted keys
    r"|whsec_[0-9A-Za-z+/=]+"  # Stripe webhook signing secret
    r"|vsk_(?:live|test)_[0-9A-Za-z_\-]+"  # our own API keys
    r")"
)

_AUTH_SCHEMES = r"(?:Bearer|Token|Basic)"
_AUTH_CREDENTIAL = re.compile(
    rf"(?<![A-Za-z0-9_-])(?P<scheme>{_AUTH_SCHEMES}[ \t]+)(?P<credential>[A-Za-z0-9\-._~+/]+=*)",
    re.IGNORECASE,
)

# A parameter whose name ends in one of these holds a credential: X-Goog-Signature, X-Goog-Credential,
# access_token, client_secret, x-api-key, HEYGEN_API_KEY, Proxy-Authorization...
_CREDENTIAL_NAME_ENDINGS = (
    "signature", "credential", "token", "secret", "password", "passwd", "authorization",
    "api_key", "api-key", "apikey", "secret_key", "secret-key", "private_key", "private-key",
)  # fmt: skip
# Too common as the end of a longer name (hotkey, Idempotency-Key): they count only on their own.
_CREDENTIAL_NAMES_ALONE = ("key", "sig")
_WORD_CHAR = "A-Za-z0-9_-"
_CREDENTIAL_NAME = (
    rf"(?:[{_WORD_CHAR}]++(?:{'|'.join(f'(?<={name})' for name in _CREDENTIAL_NAME_ENDINGS)})"
    rf"|(?:{'|'.join(_CREDENTIAL_NAMES_ALONE)})(?![{_WORD_CHAR}]))"
)
_CREDENTIAL_PARAMETER = re.compile(
    # the name starts a word, or follows an encoded '&' or '?' (%26, %2526, \u0026, %3F)
    rf"(?P<head>(?:%(?:25)?26|%3F|\\u0026|(?<![{_WORD_CHAR}])){_CREDENTIAL_NAME}"
    r"""\\?["']?[ \t]*+(?:=|:|%3D|%253D)[ \t]*+(?P<quote>\\?["'])?+"""
    rf"(?:{_AUTH_SCHEMES}[ \t]+)?+)"
    # a quoted value runs to its closing quote, a bare one to the next separator (an encoded '&' too)
    r"""(?(quote)(?:(?!(?P=quote))[^\n])+(?P=quote)|(?:\[redacted\]|(?!%(?:25)?26)[^\s"'\\&,;)}\[\]<>])+)""",
    re.IGNORECASE,
)

_UNREDACTABLE_LOG_LINE = "[log line withheld: redaction failed]"


def redact(text: str, *, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: see the module docstring for the rule. `secrets` adds to the configured ones."""
    # Known secrets first: the patterns then match around the markers this leaves, as they will in a second pass.
    text = _fragment_index(configured_secrets() + _as_tuple(secrets)).redact(text)
    lowered = text.lower()
    for rule in _PATTERN_RULES:
        # A substring test is much cheaper than a regex scan, and most log lines contain none of the needles.
        if any(needle in lowered for needle in rule.needles):
            redacted = rule.pattern.sub(rule.replacement, text)
            if redacted != text:
                text, lowered = redacted, redacted.lower()
    return text


def readable(text: str, *, limit: int, secrets: Iterable[str] = ()) -> str:
    """`text` as a user may read it (an error message, a provider's failure reason): redacted, on one line, and at
    most `limit` characters, an ellipsis marking a cut."""
    text = " ".join(redact(text, secrets=secrets).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def configured_secrets() -> tuple[str, ...]:
    """The secret values in Django settings, read now (so settings changed at run time count). Empty ones skipped."""
    found: list[object] = []
    try:
        for name in (*_CORE_SECRET_SETTINGS, *SECRET_SETTING_NAMES):
            value = getattr(settings, name, None)
            found.extend(value if isinstance(value, list | tuple) else [value])
    except ImproperlyConfigured:  # logging before Django is set up: only the passed secrets are known
        return ()
    return tuple(value for value in found if isinstance(value, str) and value)


class RedactingFormatter(logging.Formatter):
    """Formats a record as usual (arguments, exception and stack included), then redacts the whole line. With
    `inner`, another formatter (Celery's, say) does the formatting and this one only redacts."""

    def __init__(self, *args, inner: logging.Formatter | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        try:
            formatted = self.inner.format(record) if self.inner is not None else super().format(record)
            return redact(formatted)
        except Exception:
            # Neither a bad record nor a redaction bug may lose the line or let the unredacted text through.
            return f"{_UNREDACTABLE_LOG_LINE} logger={getattr(record, 'name', '?')}"


# --- Rules 2-6: patterns -------------------------------------------------------------------------------------


def _redact_url(match: re.Match[str]) -> str:
    userinfo = f"{REDACTED}@" if match["userinfo"] else ""
    return match["scheme"] + userinfo + match["hostpath"] + _redact_query(match["rest"] or "")


def _redact_query(rest: str) -> str:
    """'?a=1&b=2' -> '?[redacted]', keeping punctuation that ends the sentence rather than the URL."""
    query = rest.rstrip(_SENTENCE_PUNCTUATION)
    if len(query) <= 1:
        return rest
    return rest[0] + REDACTED + rest[len(query) :]


def _redact_auth_credential(match: re.Match[str]) -> str:
    if not _looks_like_credential(match["credential"]):
        return match[0]
    return match["scheme"] + REDACTED


def _looks_like_credential(word: str) -> bool:
    """After 'token' or 'basic' in prose come words ('Token expired'); credentials have digits or symbols."""
    return len(word) >= MIN_FRAGMENT and (not word.isalpha() or len(word) >= 24)


def _redact_parameter_value(match: re.Match[str]) -> str:
    return match["head"] + REDACTED + (match["quote"] or "")


@dataclass(frozen=True)
class _PatternRule:
    needles: tuple[str, ...]  # lower-case; the pattern cannot match text containing none of them
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str]


_PATTERN_RULES = (
    _PatternRule(("private key",), _PEM_PRIVATE_KEY, REDACTED),
    _PatternRule(("/media/",), _MEDIA_TOKEN, rf"\g<prefix>{REDACTED}"),  # before URLs, which contain it
    _PatternRule(("http",), _URL, _redact_url),
    _PatternRule(("ya29.", "eyj", "aiza", "k_live_", "k_test_", "whsec_"), _SECRET_SHAPES, REDACTED),
    _PatternRule(("bearer", "token", "basic"), _AUTH_CREDENTIAL, _redact_auth_credential),
    _PatternRule(
        ("key", "sig", "token", "secret", "passw", "credential", "authorization"),
        _CREDENTIAL_PARAMETER,
        _redact_parameter_value,
    ),
)


# --- Rule 1: fragments of known secrets -----------------------------------------------------------------------

# A window of MIN_FRAGMENT characters always contains a _GRAM-character piece starting at a multiple of _STRIDE.
_GRAM = 4
_STRIDE = MIN_FRAGMENT - _GRAM + 1


def _as_tuple(secrets: Iterable[str]) -> tuple[str, ...]:
    if isinstance(secrets, str):  # a single secret passed bare must not be taken for its characters
        return (secrets,)
    return tuple(secrets)


@functools.lru_cache(maxsize=128)
def _fragment_index(secrets: tuple[str, ...]) -> _FragmentIndex:
    return _FragmentIndex(s for s in secrets if isinstance(s, str) and len(s) >= MIN_FRAGMENT)


class _FragmentIndex:
    """Finds every stretch of text made of overlapping MIN_FRAGMENT-character windows of the secrets.

    Every common substring of MIN_FRAGMENT or more characters is made of such windows, so it is enough to find each
    window of the text that is also a window of a secret (a set lookup). Rather than look up every window of the
    text, probe it: a window shared with a secret contains a _GRAM-character piece of that secret starting at a
    multiple of _STRIDE, so only the text's pieces at those positions are looked up among the secrets' pieces, and
    only around a probe that hits are the windows looked up.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for secret in secrets for form in (secret, quote(secret, safe=""))}  # as-is and URL-encoded
        self._windows = frozenset(_pieces(forms, MIN_FRAGMENT))
        self._grams = frozenset(_pieces(forms, _GRAM))

    def redact(self, text: str) -> str:
        pieces: list[str] = []
        position = 0
        for start, end in self._secret_spans(text):
            pieces += (text[position:start], REDACTED)
            position = end
        pieces.append(text[position:])
        return "".join(pieces)

    def _secret_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each stretch of `text` covered by windows of a secret, merged where they touch."""
        spans: list[tuple[int, int]] = []
        for start in self._window_starts(text):
            end = start + MIN_FRAGMENT
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        return spans

    def _window_starts(self, text: str) -> list[int]:
        """Sorted start positions of the windows of `text` that are windows of a secret."""
        grams, windows = self._grams, self._windows
        if not grams:
            return []
        starts: set[int] = set()
        last_start = len(text) - MIN_FRAGMENT
        for probe in range(0, len(text) - _GRAM + 1, _STRIDE):
            if text[probe : probe + _GRAM] in grams:
                for start in range(max(0, probe - (MIN_FRAGMENT - _GRAM)), min(probe, last_start) + 1):
                    if text[start : start + MIN_FRAGMENT] in windows:
                        starts.add(start)
        return sorted(starts)


def _pieces(forms: Iterable[str], length: int) -> Iterable[str]:
    return (form[start : start + length] for form in forms for start in range(len(form) - length + 1))
