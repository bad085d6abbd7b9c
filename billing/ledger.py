"""The credit ledger: the only code that changes an account's credits.

Every change locks the account row (SELECT ... FOR UPDATE), checks it, updates the balances and appends one
LedgerEntry with a unique idempotency key, all in one transaction. Posting a key that is already on the ledger
changes nothing and returns the earlier entry, so a redelivered webhook, a repeated task or a race between a
completion and a cancellation can never count twice.

    grant     +n granted        a period's plan credits            expire   -n granted  what is left at period end
    purchase  +n purchased      a credit pack paid for              adjust   ±n purchased  staff correction
    hold      -n (held +n)      a video accepted at its quote       release  +n (held -n)  the hold ends
    capture   -n granted first, then purchased: a video delivered   refund   +n purchased  credits given back
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Sum
from django.utils import timezone

from video_generation.models import JobStatus, JobStep, VideoJob
from video_saas import metrics

from . import sql
from .models import EndedSubscription, EntryKind, LedgerEntry, UserProfile
from .plans import DEFAULT_PLAN, plan_named, plan_refusals
from .signals import credits_low


class InsufficientCredits(Exception):
    def __init__(self, required: int, available: int):
        super().__init__(f"{required} credits needed, {available} available")
        self.required = required
        self.available = available


class PlanRefusal(Exception):
    """The plan does not allow this brief: field name -> reasons, worded for the customer."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


class LimitReached(Exception):
    def __init__(self, limit: int):
        super().__init__(f"{limit} videos in progress already")
        self.limit = limit


@dataclass(frozen=True)
class Change:
    granted: int = 0
    purchased: int = 0
    held: int = 0

    @property
    def amount(self) -> int:
        return self.granted + self.purchased - self.held


# --- Periods --------------------------------------------------------------------------------------------------

def add_months(moment: datetime, months: int = 1) -> datetime:
    """The same day and time `months` later (the 31st becomes the month's last day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# --- Accounts -------------------------------------------------------------------------------------------------

def open_account(user, *, plan_code: str = DEFAULT_PLAN, now: datetime | None = None) -> UserProfile:
    """The user's account, created on `plan_code` with its first grant if it does not exist yet."""
    existing = UserProfile.objects.filter(user=user).select_related("plan").first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    with transaction.atomic():
        profile, created = UserProfile.objects.get_or_create(
            user=user, defaults={"plan": plan_named(plan_code), "period_start": now,
                                 "period_end": add_months(now)})
        if created:
            grant_period(profile.id, now=now)
    return UserProfile.objects.select_related("plan").get(id=profile.id)


def locked(account_id) -> UserProfile:
    """The account row with its plan, locked until the transaction ends. Call inside transaction.atomic()."""
    account = sql.locked_account("id", account_id)
    if account is None:
        raise UserProfile.DoesNotExist(f"no account {account_id}")
    return account


def account_for_user(user_id) -> UserProfile:
    """The user's account, locked (one query), opened now if an older user has none and rolled over if its period
    has ended. Call inside transaction.atomic()."""
    account = sql.locked_account("user", user_id)
    if account is None:
        open_account(get_user_model().objects.get(pk=user_id))
        account = sql.locked_account("user", user_id)
    if account.period_end <= timezone.now():
        roll_over(account.id)
        account = locked(account.id)
    return account


def post(account: UserProfile, kind: str, change: Change, *, key: str, job_id=None, payment_ref: str = "",
         memo: str = "", created_by=None, key_is_new: bool = False) -> LedgerEntry:
    """Apply `change` to a locked `account` and append its entry; an entry already posted under `key` is returned
    unchanged (nothing is applied twice). `key_is_new` skips that look-up where the key cannot exist yet (the first
    hold of a job created in this transaction); the unique index still stands behind it."""
    earlier = None if key_is_new else LedgerEntry.objects.filter(idempotency_key=key).first()
    if earlier is not None:
        return earlier
    available_before = account.available_credits
    account.granted_credits += change.granted
    account.purchased_credits += change.purchased
    account.held_credits += change.held
    if min(account.granted_credits, account.purchased_credits, account.held_credits) < 0 \
            or account.available_credits < 0:
        raise ValueError(f"{kind} {change} would leave account {account.id} negative")
    account.updated_at = timezone.now()
    entry = LedgerEntry(
        account=account, kind=kind, amount=change.amount, balance_after=account.available_credits,
        granted_delta=change.granted, purchased_delta=change.purchased, held_delta=change.held,
        job_id=job_id, payment_ref=payment_ref, idempotency_key=key, memo=memo[:500], created_by=created_by,
        created_at=account.updated_at)
    sql.write(account, entry)
    announce_low_credits(account, available_before)
    return entry


def announce_low_credits(account: UserProfile, available_before: int) -> None:
    """Send credits_low when this change took the available credits below the threshold (once per crossing)."""
    threshold = settings.CREDITS_LOW_THRESHOLD
    if threshold > 0 and available_before >= threshold > account.available_credits:
        credits_low.send(sender=UserProfile, user_id=account.user_id, available=account.available_credits,
                         threshold=threshold)


def spend(account: UserProfile, credits: int) -> Change:
    """Take `credits` from the posted balance, granted credits first."""
    from_granted = min(account.granted_credits, credits)
    return Change(granted=-from_granted, purchased=-(credits - from_granted))


# --- Jobs: hold, capture, release -----------------------------------------------------------------------------

def open_hold(account: UserProfile, job_id) -> tuple[int, int]:
    """(credits held for the job now, how many holds it has had): read from the ledger under the account lock."""
    entries = LedgerEntry.objects.filter(account=account, job_id=job_id)
    held = entries.aggregate(total=Sum("held_delta"))["total"] or 0
    return held, entries.filter(kind=EntryKind.HOLD).count()


def hold_for_job(job: VideoJob, credits: int, *, retry: bool = False) -> LedgerEntry | None:
    """Admit `job` at `credits` under its plan: what the plan allows in a brief, its videos in progress, and the
    credits, held; or raise PlanRefusal, InsufficientCredits or LimitReached.

    Runs in the transaction that creates (or retries) the job, under the account lock, so two concurrent submits
    are decided one after the other and can never spend the same credit. Unlimited plans hold nothing.

    A new job's hold is first tried as one statement (sql.take_first_hold: the same conditions, checked and applied
    by the database under the row lock); when it does not apply, the rules below decide and explain."""
    if not retry and (entry := _first_hold_in_one_statement(job, credits)) is not None:
        return entry
    account = account_for_user(job.user_id)
    if errors := plan_refusals(account.plan, job):
        raise PlanRefusal(errors)
    if not account.plan.unlimited and credits > account.available_credits:
        raise InsufficientCredits(credits, account.available_credits)
    if account.jobs_in_progress >= account.plan.max_jobs_in_flight:
        raise LimitReached(account.plan.max_jobs_in_flight)
    account.jobs_in_progress += 1
    if account.plan.unlimited:
        account.save(update_fields=["jobs_in_progress", "updated_at"])
        return None
    holds = open_hold(account, job.id)[1] if retry else 0
    return post(account, EntryKind.HOLD, Change(held=credits), key=hold_key(job.id, holds + 1), job_id=job.id,
                memo=hold_memo(credits), key_is_new=not retry)


def hold_key(job_id, number: int) -> str:
    """The idempotency key of a job's `number`th hold (an admin retry holds again)."""
    return f"hold:{job_id}:{number}"


def hold_memo(credits: int) -> str:
    return f"{credits} credits quoted"  # the job id names the job: no customer text on the ledger


def _first_hold_in_one_statement(job: VideoJob, credits: int) -> LedgerEntry | None:
    now = timezone.now()
    entry = LedgerEntry(kind=EntryKind.HOLD, amount=-credits, held_delta=credits, job_id=job.id,
                        idempotency_key=hold_key(job.id, 1), memo=hold_memo(credits), created_at=now)
    account = sql.take_first_hold(user_id=job.user_id, credits=credits, entry=entry, now=now)
    if account is None:
        return None
    if errors := plan_refusals(account.plan, job):
        raise PlanRefusal(errors)  # the transaction that creates the job rolls the hold back with it
    announce_low_credits(account, available_before=account.available_credits + credits)
    return entry


def settle_job(job_id, status: str, credits: int) -> None:
    """End the job's hold as it finishes: a delivered video is charged `credits` (at most what was held) and the
    rest released; a failed or cancelled one is released in full. Runs in the job's final transition."""
    user_id = VideoJob.objects.filter(id=job_id).values_list("user_id", flat=True).first()
    if user_id is None:
        return
    account = account_for_user(user_id)
    held, holds = open_hold(account, job_id)
    account.jobs_in_progress = max(0, account.jobs_in_progress - 1)  # a miscount must never stop a job ending
    if held > 0:
        post(account, EntryKind.RELEASE, Change(held=-held), key=f"release:{job_id}:{holds}", job_id=job_id,
             memo="hold ended")
    charged = min(credits, held) if status == JobStatus.COMPLETED and not account.plan.unlimited else 0
    if charged:
        post(account, EntryKind.CAPTURE, spend(account, charged), key=f"capture:{job_id}:{holds}", job_id=job_id,
             memo=f"video delivered: {charged} credits")
    if status == JobStatus.COMPLETED:
        account.videos_this_month += 1
    account.save(update_fields=["videos_this_month", "jobs_in_progress", "updated_at"])
    count_usage_after_commit(account.plan.code, charged, job_id)


def count_usage_after_commit(plan: str, credits: int, job_id) -> None:
    """The credits a settlement captured and the provider cost of the job, in the metrics by plan (never by user),
    once the job's final transition commits. (A failed job that an admin retries and that ends again is settled
    again: the cost of its steps is counted at each end.)"""
    cost = JobStep.objects.filter(job_id=job_id).aggregate(total=Sum("cost_usd"))["total"] or 0

    def record() -> None:
        if credits:
            metrics.count_credits(plan, credits)
        if cost:
            metrics.count_provider_cost(plan, float(cost))

    transaction.on_commit(record)


# --- Periods: grants and expiry -------------------------------------------------------------------------------

def grant_period(account_id, *, now: datetime | None = None, payment_ref: str = "") -> LedgerEntry | None:
    """Grant the plan's credits for the account's current period (once per period)."""
    with transaction.atomic():
        account = locked(account_id)
        if account.plan.unlimited or not account.plan.monthly_credits:
            return None
        start = account.period_start.isoformat()
        return post(account, EntryKind.GRANT, Change(granted=account.plan.monthly_credits),
                    key=f"grant:{account.id}:{start}", payment_ref=payment_ref,
                    memo=f"{account.plan.name} plan credits for the period from {start[:10]}")


def roll_over(account_id, *, now: datetime | None = None) -> bool:
    """If the account's period has ended: expire what is left of its grant, start the next period and grant it.
    Idempotent per period (the keys name the period). Credits held by videos in progress do not expire."""
    now = now or timezone.now()
    with transaction.atomic():
        account = locked(account_id)
        if account.period_end > now:
            return False
        while account.period_end <= now:
            ended = account.period_start.isoformat()
            expiring = max(0, account.granted_credits - account.held_credits)
            if expiring:
                post(account, EntryKind.EXPIRE, Change(granted=-expiring), key=f"expire:{account.id}:{ended}",
                     memo=f"unused plan credits of the period from {ended[:10]}")
            account.period_start, account.period_end = account.period_end, add_months(account.period_end)
        account.videos_this_month = 0
        account.save(update_fields=["period_start", "period_end", "videos_this_month", "updated_at"])
        if not account.stripe_subscription_id:  # a paid plan's grant comes with its paid invoice (stripe.py)
            grant_period(account.id, now=now)
    return True


def roll_over_due(*, now: datetime | None = None, batch: int = 500) -> int:
    """Roll over every account whose period has ended (the beat task); returns how many were."""
    now = now or timezone.now()
    # An erased account (accounts/services.py) is kept only as the record of its ledger: it gets no new periods.
    due = UserProfile.objects.filter(period_end__lte=now, erased_at__isnull=True).values_list("id", flat=True)[:batch]
    return sum(roll_over(account_id, now=now) for account_id in due)


# --- Paid plans (Stripe) ----------------------------------------------------------------------------------------

def start_paid_period(account_id, *, plan, period_start: datetime, period_end: datetime, subscription_id: str,
                      invoice_id: str) -> LedgerEntry | None:
    """A subscription invoice was paid: the account is on `plan` for the invoice's period, what was left of the
    grant before it expires (held credits excepted), and the plan's credits are granted. Once per invoice: a
    redelivered invoice changes nothing."""
    with transaction.atomic():
        account = locked(account_id)
        if subscription_has_ended(subscription_id):  # a late invoice: its credits were paid for, its plan is over
            return _grant_paid_credits(account, plan, invoice_id)
        expire_key = f"expire:invoice:{invoice_id}"
        if LedgerEntry.objects.filter(idempotency_key__in=[expire_key, f"grant:invoice:{invoice_id}"]).exists():
            return LedgerEntry.objects.filter(idempotency_key=f"grant:invoice:{invoice_id}").first()
        expiring = max(0, account.granted_credits - account.held_credits)
        if expiring:
            post(account, EntryKind.EXPIRE, Change(granted=-expiring), key=expire_key,
                 memo=f"unused plan credits, replaced by the {plan.name} plan's")
        if period_start > account.period_start:  # a new period: the invoice's, whatever the one before was
            account.period_start, account.period_end, account.videos_this_month = period_start, period_end, 0
        else:  # the period the account is in (or a late invoice for an earlier one): never shortened
            account.period_end = max(period_end, account.period_end)
        account.plan, account.stripe_subscription_id = plan, subscription_id
        account.save(update_fields=["plan", "stripe_subscription_id", "period_start", "period_end",
                                    "videos_this_month", "updated_at"])
        return _grant_paid_credits(account, plan, invoice_id)


def _grant_paid_credits(account: UserProfile, plan, invoice_id: str) -> LedgerEntry | None:
    if plan.unlimited or not plan.monthly_credits:
        return None
    return post(account, EntryKind.GRANT, Change(granted=plan.monthly_credits), key=f"grant:invoice:{invoice_id}",
                payment_ref=invoice_id, memo=f"{plan.name} plan credits, invoice paid")


def subscription_has_ended(subscription_id: str) -> bool:
    return EndedSubscription.objects.filter(subscription_id=subscription_id).exists()


def record_subscription(account_id, *, plan, subscription_id: str) -> bool:
    """A checkout for `plan` started subscription `subscription_id`: the account is on the plan from now on; its
    credits come with the paid invoice (start_paid_period). False if the account has another subscription (which
    this one does not displace), the invoice was recorded first, or the subscription has already ended (a late
    event)."""
    with transaction.atomic():
        account = locked(account_id)
        if account.stripe_subscription_id or subscription_has_ended(subscription_id):
            return False
        account.plan, account.stripe_subscription_id = plan, subscription_id
        account.save(update_fields=["plan", "stripe_subscription_id", "updated_at"])
    return True


def end_subscription(account_id, *, subscription_id: str) -> bool:
    """The subscription ended: the account is back on the free plan (its granted credits last to the period's
    end, then the free grant starts). False if the account had another subscription by then."""
    with transaction.atomic():
        EndedSubscription.objects.get_or_create(subscription_id=subscription_id)
        account = locked(account_id)
        if account.stripe_subscription_id not in ("", subscription_id):
            return False
        account.plan, account.stripe_subscription_id = plan_named(DEFAULT_PLAN), ""
        account.save(update_fields=["plan", "stripe_subscription_id", "updated_at"])
    return True


# --- Money in, corrections --------------------------------------------------------------------------------------

def purchase(account_id, credits: int, *, key: str, payment_ref: str, memo: str = "") -> LedgerEntry:
    with transaction.atomic():
        return post(locked(account_id), EntryKind.PURCHASE, Change(purchased=credits), key=key,
                    payment_ref=payment_ref, memo=memo)


def adjust(account_id, credits: int, *, reason: str, by, key: str) -> LedgerEntry:
    """A staff correction of ±credits (purchased bucket, so it does not expire), with its reason."""
    if not reason.strip():
        raise ValueError("an adjustment needs a reason")
    with transaction.atomic():
        account = locked(account_id)
        if earlier := LedgerEntry.objects.filter(idempotency_key=key).first():
            return earlier  # posted before: the balance check was made then
        if credits < 0 and -credits > account.available_credits:
            raise InsufficientCredits(-credits, account.available_credits)
        change = Change(purchased=credits) if credits >= 0 else _take_back(account, -credits)
        return post(account, EntryKind.ADJUST, change, key=key, memo=reason, created_by=by)


def _take_back(account: UserProfile, credits: int) -> Change:
    """A negative adjustment takes purchased credits first (granted ones expire anyway), never held ones."""
    from_purchased = min(account.purchased_credits, credits)
    return Change(purchased=-from_purchased, granted=-(credits - from_purchased))


def refund_job(job: VideoJob, *, reason: str, by) -> LedgerEntry:
    """Give back what a delivered video was charged (e.g. it was unusable); once per job."""
    with transaction.atomic():
        account = account_for_user(job.user_id)
        captured = -(LedgerEntry.objects.filter(account=account, job_id=job.id, kind=EntryKind.CAPTURE)
                     .aggregate(total=Sum("amount"))["total"] or 0)
        if captured <= 0:
            raise ValueError("this job was not charged")
        return post(account, EntryKind.REFUND, Change(purchased=captured), key=f"refund:{job.id}", job_id=job.id,
                    memo=reason, created_by=by)


# --- Erasure ----------------------------------------------------------------------------------------------------

FREE_TEXT_KINDS = (EntryKind.ADJUST, EntryKind.REFUND)  # their memo is a reason typed by our staff
ERASED_MEMO = "(erased)"


def erase_free_text(account_id) -> int:
    """The one change ever made to posted entries: when the account's customer is erased, the memos our staff typed
    (adjustment and refund reasons, which may name the customer) are replaced. Amounts, balances, kinds, keys, job
    ids and payment references stay: the record of money is kept. Our own memos name no customer."""
    entries = LedgerEntry.objects.filter(account_id=account_id, kind__in=FREE_TEXT_KINDS).exclude(memo=ERASED_MEMO)
    return models.QuerySet.update(entries, memo=ERASED_MEMO)  # past AppendOnlyQuerySet's guard, deliberately

