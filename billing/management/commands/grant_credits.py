"""`manage.py grant_credits USERNAME N --reason TEXT`: an adjustment posted through the ledger (like the admin's)."""

import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from billing import ledger


class Command(BaseCommand):
    help = "Give (or with a negative N take back) credits, with a reason the customer sees in their ledger."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("credits", type=int)
        parser.add_argument("--reason", required=True)
        parser.add_argument("--key", default="", help="idempotency key: the same key never posts twice")

    def handle(self, *args, username, credits, reason, key, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        account = ledger.open_account(user)
        try:
            entry = ledger.adjust(account.id, credits, reason=reason, by=None, key=key or f"adjust:{uuid.uuid4()}")
        except (ledger.InsufficientCredits, ValueError) as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(f"{username}: {entry.amount:+d} credits, {entry.balance_after} available")
