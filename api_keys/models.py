"""API keys: the secret is shown once and stored only as its SHA-256 (see api_keys/keys.py for the format)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Scope(models.TextChoices):
    JOBS_READ = "jobs:read", "Read jobs (status, list, download)"
    JOBS_WRITE = "jobs:write", "Start, quote, cancel and retry jobs"
    ACCOUNT_READ = "account:read", "Read the account (plan, credits, ledger, usage)"
    BILLING = "billing", "Open Stripe checkout and the billing portal"


class ApiKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # What the owner (and a secret scanner's report) can name the key by: "vsk_live_" and the first random
    # characters; for a migrated legacy token, "legacy_" and its first characters.
    prefix = models.CharField(max_length=32, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)  # hex SHA-256 of the whole key: the lookup
    scopes = models.JSONField(default=list, blank=True, help_text="Empty: every scope.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_key_user_live")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def allows(self, scope: str) -> bool:
        return not self.scopes or scope in self.scopes

    def is_usable(self, now) -> bool:
        """Not revoked and not expired; both are evaluated (no early return) so every refusal costs the same."""
        revoked = self.revoked_at is not None
        expired = self.expires_at is not None and self.expires_at <= now
        return not (revoked | expired)
