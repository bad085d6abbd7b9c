from celery import shared_task

from . import ledger


@shared_task(acks_late=True)
def roll_over_periods() -> int:
    """Expire and grant for every account whose credit period has ended (idempotent per period)."""
    return ledger.roll_over_due()
