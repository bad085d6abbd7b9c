"""Reading an account: its summary, its ledger, its usage. (Changes to credits are ledger.py's alone.)"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from video_generation.models import JobStatus, VideoJob

from . import ledger
from .models import EntryKind, LedgerEntry, UserProfile

PLAN_RATE_TTL_SECONDS = 60.0
_plan_rates: dict = {}  # user id -> (the plan's rate or None, monotonic expiry): this process's memory


def plan_rate_limit(user) -> str | None:
    """The user's plan's generate rate limit, if it sets one (rate_limits.generate_rate asks on every submit).

    Remembered for a minute in each process, so the submit path does not query it every time: a plan change reaches
    the rate limit within PLAN_RATE_TTL_SECONDS (credits and plan limits are always read fresh, under the lock)."""
    now = clock.monotonic()
    remembered = _plan_rates.get(user.pk)
    if remembered is not None and remembered[1] > now:
        return remembered[0]
    rate = UserProfile.objects.filter(user_id=user.pk).values_list("plan__generate_rate_limit", flat=True).first()
    if len(_plan_rates) > 10_000:
        _plan_rates.clear()
    _plan_rates[user.pk] = (rate or None, now + PLAN_RATE_TTL_SECONDS)
    return rate or None


def plan_video_retention(user_id) -> int | None:
    """Days the user's plan keeps a finished video, if it sets them (retention.video_expiry asks on delivery)."""
    return UserProfile.objects.filter(user_id=user_id).values_list("plan__video_retention_days", flat=True).first()


def account(user) -> UserProfile:
    """The user's account, its period rolled over first if it has ended."""
    profile = ledger.open_account(user)
    if profile.period_end <= timezone.now():
        ledger.roll_over(profile.id)
        profile = UserProfile.objects.select_related("plan").get(id=profile.id)
    return profile


def summary(user) -> dict:
    profile = account(user)
    plan = profile.plan
    unlimited = plan.unlimited
    return {
        "username": user.get_username(),
        "plan": {"code": plan.code, "name": plan.name, "monthly_credits": plan.monthly_credits,
                 "price_usd": str(plan.price_usd), "max_scenes": plan.max_scenes,
                 "max_jobs_in_flight": plan.max_jobs_in_flight,
                 "allowed_qualities": plan.allowed_qualities or None, "unlimited": unlimited},
        "credits": {"available": None if unlimited else profile.available_credits, "held": profile.held_credits,
                    "granted": profile.granted_credits, "purchased": profile.purchased_credits},
        "videos_this_month": profile.videos_this_month,
        "period_ends_at": profile.period_end,
    }


def entries(user, *, job_id=None):
    rows = LedgerEntry.objects.filter(account__user=user)
    return rows.filter(job_id=job_id) if job_id else rows


@dataclass(frozen=True)
class JobCredits:
    """A job's credits as its ledger entries tell them (the only place they are counted)."""

    held: int  # held for it now (while it runs)
    charged: int  # captured: what the delivered video cost
    released: int  # given back from its holds when it ended
    refunded: int  # given back after it was charged

    @property
    def not_charged(self) -> bool:
        """Its hold ended with nothing taken: a failed or cancelled video."""
        return self.released > 0 and self.held == 0 and self.charged == 0


def job_credits(user, job_id) -> JobCredits:
    totals = entries(user, job_id=job_id).aggregate(**_credit_sums())
    return JobCredits(**{name: value or 0 for name, value in totals.items()})


def with_job_credits(jobs):
    """`jobs` (a VideoJob queryset) annotated with credits_held, credits_charged, credits_released and
    credits_refunded, summed from their ledger entries in the same query."""
    return jobs.annotate(**{f"credits_{name}": total
                            for name, total in _credit_sums(through="ledger_entries__").items()})


def _credit_sums(through: str = "") -> dict:
    """JobCredits' fields as sums over ledger entries (reached from a job `through` its relation)."""
    def total(field: str, kind: str | None = None):
        return Sum(through + field, filter=Q(**{through + "kind": kind}) if kind else None)

    return {"held": total("held_delta"), "charged": -total("amount", EntryKind.CAPTURE),
            "released": total("amount", EntryKind.RELEASE), "refunded": total("amount", EntryKind.REFUND)}


def usage_per_day(user, *, start: date, end: date) -> list[dict]:
    """Videos per day from `start` to `end` (inclusive) by the day they ended: delivered count, seconds and
    credits, and what the providers charged for every job that ended that day (failed ones cost us too)."""
    zone = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(start, time.min), zone)
    until = timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone)
    rows = (VideoJob.objects.filter(user=user, completed_at__gte=since, completed_at__lt=until)
            .annotate(day=TruncDate("completed_at", tzinfo=zone)).values("day")
            .annotate(videos=Count("id", filter=Q(status=JobStatus.COMPLETED)),
                      seconds=Sum("duration_seconds", filter=Q(status=JobStatus.COMPLETED)),
                      credits=Sum("credits_used", filter=Q(status=JobStatus.COMPLETED)),
                      cost=Sum("cost_usd"))
            .order_by("day"))
    return [{"date": row["day"], "videos": row["videos"], "seconds": round(row["seconds"] or 0.0, 1),
             "credits": row["credits"] or 0, "provider_cost_usd": str(row["cost"] or Decimal("0"))}
            for row in rows]
