"""`python manage.py create_api_token USERNAME [--name NAME]`: a new API key for the user (created if missing).

Each run issues a new `vsk_` key (keys are stored hashed, so an existing one cannot be shown again); revoke old
ones with DELETE /api/keys/{id}/ or in the admin. The key is always the last line of output, so scripts can take
it with `| tail -n 1`.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from api_keys.services import issue_key


class Command(BaseCommand):
    help = "Print a new API key for USERNAME (last line), creating the user (no password) if missing."

    def add_arguments(self, parser):
        parser.add_argument("username", help="Username to create or look up.")
        parser.add_argument("--name", default="create_api_token", help="The key's name (shown in GET /api/keys/).")

    def handle(self, *args, username: str, name: str, **options):
        User = get_user_model()
        with transaction.atomic():
            user, user_created = User.objects.get_or_create(**{User.USERNAME_FIELD: username})
            if user_created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            issued = issue_key(user=user, name=name)

        self.stdout.write(f"{'Created' if user_created else 'Existing'} user: {username}")
        self.stdout.write(f"New API key {issued.api_key.prefix}… for {username} (shown once):")
        self.stdout.write(issued.secret)
