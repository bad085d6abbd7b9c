"""`python manage.py create_api_token USERNAME`: the user's API token, creating user and token if needed.

The token key is always the last line of output, so scripts can take it with `| tail -n 1`.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print USERNAME's API token (last line), creating the user (no password) and token if missing."

    def add_arguments(self, parser):
        parser.add_argument("username", help="Username to create or look up.")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        with transaction.atomic():
            user, user_created = User.objects.get_or_create(**{User.USERNAME_FIELD: username})
            if user_created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            token, token_created = Token.objects.get_or_create(user=user)

        self.stdout.write(f"{'Created' if user_created else 'Existing'} user: {username}")
        self.stdout.write(f"{'Created' if token_created else 'Existing'} token for {username}:")
        self.stdout.write(token.key)
