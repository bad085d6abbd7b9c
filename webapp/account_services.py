"""The Account pages' reading and paying: the usage chart, the ledger's pages, and one Stripe Checkout per click.

The numbers come from billing.services (the same as GET /api/account/, ledger/ and usage/); Checkout Sessions from
billing.stripe_service (the same as POST /api/billing/checkout/). Credits arrive only with Stripe's verified
webhook, once per Checkout Session (stripe_service.handle_event); what this module adds is that a form submitted
twice opens one session, not two the user could pay separately.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.utils import timezone

from billing import services as billing
from billing.account_api import LedgerPagination
from billing.models import EntryKind
from billing.stripe_service import Checkout

from . import once

USAGE_RANGES = (7, 30, 90)  # days the usage chart can show
DEFAULT_USAGE_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 600, 160  # the SVG's viewBox: bars scale to the tallest day
LEDGER_PAGE_SIZE = LedgerPagination.page_size

CHECKOUT_WAIT_SECONDS = 10.0


# --- Usage per day ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UsageBar:
    day: date
    videos: int
    seconds: float
    credits: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class UsageChart:
    start: date
    end: date
    bars: list[UsageBar]  # one per day, oldest first
    active_days: list[UsageBar]  # the days with any activity (the table)
    tallest: int
    total_credits: int
    total_videos: int
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def usage_chart(user, *, days: int, today: date | None = None) -> UsageChart:
    """The credits charged each day of the last `days` days (today included), as bars whose heights are
    proportional to them; a day without use is a bar of height 0."""
    end = today or timezone.localdate()
    start = end - timedelta(days=days - 1)
    used = {row["date"]: row for row in billing.usage_per_day(user, start=start, end=end)}
    tallest = max((row["credits"] for row in used.values()), default=0)
    pitch = CHART_WIDTH / days
    bars = []
    for index in range(days):
        day = start + timedelta(days=index)
        row = used.get(day, {"videos": 0, "seconds": 0.0, "credits": 0})
        height = CHART_HEIGHT * row["credits"] / tallest if tallest else 0.0
        bars.append(UsageBar(day=day, videos=row["videos"], seconds=row["seconds"], credits=row["credits"],
                             x=round(index * pitch + pitch * 0.1, 2), y=round(CHART_HEIGHT - height, 2),
                             width=round(pitch * 0.8, 2), height=round(height, 2)))
    return UsageChart(start=start, end=end, bars=bars,
                      active_days=[bar for bar in bars if bar.videos or bar.credits or bar.seconds],
                      tallest=tallest, total_credits=sum(bar.credits for bar in bars),
                      total_videos=sum(bar.videos for bar in bars))


# --- The ledger -------------------------------------------------------------------------------------------------

class BadPage(ValueError):
    """A page number that is not a whole number from 1."""


KIND_WORDS = dict(EntryKind.choices)


def ledger_page(user, number: str | None) -> Page:
    """One page of the user's ledger, newest first (billing.services.entries). BadPage for a malformed number;
    django.core.paginator.EmptyPage past the last page."""
    paginator = Paginator(billing.entries(user).order_by("-id"), LEDGER_PAGE_SIZE, allow_empty_first_page=True)
    try:
        return paginator.page(number or 1)
    except PageNotAnInteger:
        raise BadPage(number) from None
    except EmptyPage:
        if not str(number).isdigit() or int(number) < 1:
            raise BadPage(number) from None
        raise


# --- Checkout, once per click -----------------------------------------------------------------------------------

class CheckoutInProgress(Exception):
    """The same form's first submit is still waiting for Stripe."""


def checkout_attempt() -> str:
    """A fresh token for a page's purchase forms: submitting one of them twice opens the same Checkout."""
    return once.new_token()


def valid_attempt(token: str) -> bool:
    return once.well_formed(token)


def checkout_once(user, *, attempt: str, item: str, start: Callable[..., Checkout]) -> Checkout:
    """The Checkout `start(idempotency_key=...)` opens for this user's form `attempt` and `item` ("pack:credits-50"):
    made once (webapp/once.py), then the same one for every repeat of the submit (a double click, a resent form).
    Stripe is also given the idempotency key, so it answers the same session should this memory be lost."""
    if not once.claim(user, attempt, scope=item):
        remembered = once.outcome(user, attempt, scope=item, seconds=CHECKOUT_WAIT_SECONDS)
        if not isinstance(remembered, dict):
            raise CheckoutInProgress()
        return Checkout(**remembered)
    try:
        checkout = start(idempotency_key=f"webapp-checkout-{once.claim_id(user, attempt, item)}")
    except BaseException:
        once.release(user, attempt, scope=item)  # nothing was opened: the same form may try again
        raise
    once.done(user, attempt, {"url": checkout.url, "session_id": checkout.session_id}, scope=item)
    return checkout
