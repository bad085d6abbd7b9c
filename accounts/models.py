"""What an erased account leaves behind besides its ledger: one anonymous usage row per job it had.

Accounting needs what each video cost us and what it was charged, by account and day, after the customer and their
jobs are gone. The row names no person and nothing the customer wrote: the anonymised account (billing's
UserProfile, kept with its ledger), the job's id (the ledger entries name it too), its outcome, length, credits
and provider cost.
"""

from decimal import Decimal

from django.db import models


class JobUsageRecord(models.Model):
    account = models.ForeignKey("billing.UserProfile", on_delete=models.PROTECT, related_name="erased_job_usage")
    job_id = models.UUIDField(unique=True)
    status = models.CharField(max_length=32)
    quality = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(help_text="When the job was accepted.")
    completed_at = models.DateTimeField(null=True, blank=True, help_text="When it ended.")
    duration_seconds = models.FloatField(null=True, blank=True)
    credits_used = models.IntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    erased_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "created_at"]

    def __str__(self) -> str:
        return f"usage of erased job {self.job_id}"
