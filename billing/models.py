"""Plans, the account that holds a user's credits, and the credit ledger.

The ledger is append-only: every change to an account's credits is one LedgerEntry, written under a lock on the
account row in the same transaction as the change (ledger.py is the only writer). Corrections are new entries.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Plan(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    monthly_credits = models.PositiveIntegerField(
        null=True, blank=True, help_text="Credits granted each period; empty means unlimited (no hold is needed).")
    price_usd = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"),
                                    help_text="Price per month.")
    max_scenes = models.PositiveSmallIntegerField(default=20, help_text="Scenes per video.")
    max_jobs_in_flight = models.PositiveIntegerField(default=5, help_text="Videos in progress at once.")
    generate_rate_limit = models.CharField(
        max_length=32, blank=True, default="",
        help_text='e.g. "50/hour"; empty: the GENERATE_RATE_LIMIT setting applies.')
    allowed_qualities = models.JSONField(
        default=list, blank=True, help_text='Qualities the plan offers, e.g. ["fast"]; empty: all of them.')
    stripe_price_id = models.CharField(max_length=255, blank=True, default="",
                                       help_text="The Stripe Price a subscription to this plan is made with.")
    video_retention_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days a finished video is kept after delivery; empty: the "
                                         "VIDEO_RETENTION_DAYS setting applies.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def unlimited(self) -> bool:
        return self.monthly_credits is None

    def offers(self, quality: str) -> bool:
        return not self.allowed_qualities or quality in self.allowed_qualities


class CreditPack(models.Model):
    """Credits bought once (Stripe Checkout in payment mode). Purchased credits never expire."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    credits = models.PositiveIntegerField()
    price_usd = models.DecimalField(max_digits=10, decimal_places=2)
    stripe_price_id = models.CharField(max_length=255, blank=True, default="")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["credits"]

    def __str__(self) -> str:
        return f"{self.name} ({self.credits} credits)"


class UserProfile(models.Model):
    """The brief's UserProfile, and the account's balance row: locked (SELECT ... FOR UPDATE) for every change.

    posted = granted + purchased; available = posted - held. Granted credits are this period's grant and expire at
    its end; purchased ones do not. Spending takes granted credits first.
    """

    # The balance row outlives its user: an erased account (accounts/services.py) keeps it, anonymised (user
    # empty, erased_at set, Stripe ids cleared), because its ledger entries PROTECT it.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="profile")
    erased_at = models.DateTimeField(null=True, blank=True, help_text="When the account's user was erased.")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="profiles")
    granted_credits = models.IntegerField(default=0)
    purchased_credits = models.IntegerField(default=0)
    held_credits = models.IntegerField(default=0)
    videos_this_month = models.IntegerField(default=0, help_text="Videos delivered in the current period.")
    jobs_in_progress = models.IntegerField(default=0, help_text="Accepted videos not yet finished: counted up when one "
                                                                "is admitted and down when it ends, under the lock.")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(db_index=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(granted_credits__gte=0), name="granted_not_negative"),
            models.CheckConstraint(condition=Q(purchased_credits__gte=0), name="purchased_not_negative"),
            models.CheckConstraint(condition=Q(held_credits__gte=0), name="held_not_negative"),
            models.CheckConstraint(condition=Q(jobs_in_progress__gte=0), name="jobs_in_progress_not_negative"),
            models.CheckConstraint(condition=Q(held_credits__lte=F("granted_credits") + F("purchased_credits")),
                                   name="held_within_balance"),
        ]

    def __str__(self) -> str:
        return f"{self.user if self.user_id else f'erased account {self.id}'} ({self.plan.code})"

    @property
    def posted_credits(self) -> int:
        return self.granted_credits + self.purchased_credits

    @property
    def available_credits(self) -> int:
        return self.posted_credits - self.held_credits

    @property
    def total_credits(self) -> int:
        """The brief's name for the credits the account has (posted: granted and purchased)."""
        return self.posted_credits


class EntryKind(models.TextChoices):
    GRANT = "grant", "Grant (plan credits for a period)"
    PURCHASE = "purchase", "Purchase"
    HOLD = "hold", "Hold (a video accepted)"
    CAPTURE = "capture", "Capture (a video delivered)"
    RELEASE = "release", "Release (a hold ended)"
    REFUND = "refund", "Refund"
    EXPIRE = "expire", "Expiry of granted credits"
    ADJUST = "adjust", "Adjustment"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("ledger entries are never changed: post a correcting entry instead")

    def delete(self):
        raise TypeError("ledger entries are never deleted: post a correcting entry instead")


class LedgerEntry(models.Model):
    """One change to an account's credits.

    `amount` is the change to the available balance, and `balance_after` the available balance after it, so an
    account's entries sum to its available credits. The deltas say which bucket moved: a hold moves credits into
    `held`, a capture takes them out of `granted` (first) and `purchased`.
    """

    # Indexed by ledger_account_idx (account, -id), which serves every look-up by account: no index of its own.
    account = models.ForeignKey(UserProfile, on_delete=models.PROTECT, related_name="entries", db_index=False)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    amount = models.IntegerField()
    balance_after = models.IntegerField()
    granted_delta = models.IntegerField(default=0)
    purchased_delta = models.IntegerField(default=0)
    held_delta = models.IntegerField(default=0)
    # No database constraint: the entry keeps the job's id after the job's data is deleted (the record of money
    # outlives it).
    job = models.ForeignKey("video_generation.VideoJob", null=True, blank=True, on_delete=models.DO_NOTHING,
                            db_constraint=False, related_name="ledger_entries")
    payment_ref = models.CharField(max_length=255, blank=True, default="",
                                   help_text="The Stripe object (checkout session, invoice) it belongs to.")
    idempotency_key = models.CharField(max_length=255)  # unique: a constraint, which needs no LIKE index beside it
    memo = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", db_index=False,
                                   help_text="The staff member who made an adjustment.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # Every submit inserts an entry, so the table keeps only the indexes its reads need.
        indexes = [
            models.Index(fields=["account", "-id"], name="ledger_account_idx"),
            # Only adjustments name a staff member: the index holds them alone (for SET_NULL when one is deleted).
            models.Index(fields=["created_by"], condition=Q(created_by__isnull=False), name="ledger_created_by_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["idempotency_key"], name="ledger_unique_idempotency_key")]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.idempotency_key})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("ledger entries are never changed: post a correcting entry instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger entries are never deleted: post a correcting entry instead")


class EndedSubscription(models.Model):
    """A Stripe subscription that has ended: a late event of it (a checkout completion, a paid invoice delivered
    after the deletion) never puts an account back on its plan."""

    subscription_id = models.CharField(max_length=255, unique=True)
    ended_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.subscription_id


class StripeEvent(models.Model):
    """A Stripe event we have processed: a redelivery of the same id is acknowledged and ignored."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
