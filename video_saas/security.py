"""Start-up rules that keep a production deployment from running with a secret key anyone can read.

`settings.py` applies them when DEBUG is false, so `manage.py`, gunicorn and the Celery worker all refuse to start
with the same message. The message names the setting and never shows its value.
"""

from __future__ import annotations

MIN_SECRET_KEY_LENGTH = 50  # Django's own deploy check (security.W009) uses the same bounds
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5
# Text that only ever appears in sample or generated-for-development keys.
PLACEHOLDER_MARKERS = ("django-insecure", "insecure", "change-me", "changeme", "change_me", "replace-me",
                       "placeholder", "your-secret", "secret-key-here", "example")
GENERATE_HINT = "generate one with: python -c \"import secrets; print(secrets.token_urlsafe(64))\""


def secret_key_problem(key: str, *, name: str = "SECRET_KEY") -> str | None:
    """Why `key` must not sign anything in production, or None if it is fit to."""
    if not key:
        return f"{name} is not set. With DEBUG=false it must be a random string of at least " \
               f"{MIN_SECRET_KEY_LENGTH} characters; {GENERATE_HINT}"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"{name} is too short ({len(key)} characters, at least {MIN_SECRET_KEY_LENGTH} are needed); " \
               f"{GENERATE_HINT}"
    if len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS:
        return f"{name} is not random (fewer than {MIN_SECRET_KEY_UNIQUE_CHARACTERS} distinct characters); " \
               f"{GENERATE_HINT}"
    lowered = key.lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return f"{name} is a known placeholder, not a secret; {GENERATE_HINT}"
    return None


def secret_keys_problem(key: str, fallbacks: list[str]) -> str | None:
    """The first problem with the signing key or any of its fallbacks (old keys still verify links)."""
    named = [("SECRET_KEY", key)] + [(f"SECRET_KEY_FALLBACKS[{i}]", old) for i, old in enumerate(fallbacks)]
    return next((problem for name, value in named if (problem := secret_key_problem(value, name=name))), None)
