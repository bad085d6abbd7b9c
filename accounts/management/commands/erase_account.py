"""`manage.py erase_account USERNAME --confirm USERNAME`: erase an account for support (a request by mail, say),
exactly as DELETE /api/account/ does (accounts.services.erase_account)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts import services


class Command(BaseCommand):
    help = "Erase a user: running jobs cancelled, their files, jobs, keys and user deleted; the ledger anonymised."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--confirm", required=True, help="the username again")

    def handle(self, *args, username, confirm, **options):
        if confirm != username:
            raise CommandError("--confirm must repeat the username: nothing was erased")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        try:
            services.erase_account(user.pk)
        except services.SubscriptionActive:
            raise CommandError(f"{username} has a paid subscription: cancel it at Stripe first") from None
        self.stdout.write(f"{username} was erased")
