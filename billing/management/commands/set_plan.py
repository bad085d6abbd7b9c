"""`manage.py set_plan USERNAME PLAN`: move an account to a plan (e.g. a sales-led enterprise customer)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing import ledger
from billing.models import Plan


class Command(BaseCommand):
    help = "Put a user's account on a plan (its credits for the current period come at the next rollover)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("plan", help="plan code: free, pro, enterprise, or one made in the admin")

    def handle(self, *args, username, plan, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        chosen = Plan.objects.filter(code=plan).first()
        if chosen is None:
            raise CommandError(f"no plan {plan!r}; plans: {', '.join(Plan.objects.values_list('code', flat=True))}")
        account = ledger.open_account(user)
        with transaction.atomic():
            account = ledger.locked(account.id)
            account.plan = chosen
            account.save(update_fields=["plan", "updated_at"])
        self.stdout.write(f"{username} is on the {chosen.name} plan")
