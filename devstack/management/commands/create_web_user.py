"""`python manage.py create_web_user USERNAME [--email ADDRESS] < password`: a web app account one can sign in to at
once, for a local stack (`make demo --keep-running`, the browser tests).

A new user is signed up through the web app's own service (inactive, free plan) and its address verified with the
same token a verification link carries; an existing user (e.g. made by create_api_token) gets the password and, if
it still awaits verification, is verified the same way. The password is read from standard input (one line), never
from the command line, where any process could read it; it is never printed.
"""

import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from webapp import services


class Command(BaseCommand):
    help = "Make USERNAME able to sign in to the web app with the password read from standard input."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="the account's e-mail address (default USERNAME@example.com)")

    def handle(self, *args, username: str, email: str, **options):
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("give the password on standard input (one line)")
        email = email or f"{username}@example.com"
        with transaction.atomic():
            user = get_user_model()._default_manager.filter(username=username).first()
            if user is None:
                user = services.account_sign_up(username=username, email=email, password=password)
            elif not user.is_active and not services.awaiting_verification(user):
                raise CommandError(f"{username} is deactivated: activate the account in the admin first")
            else:
                user.set_password(password)
                user.email = user.email or email
                user.save(update_fields=["password", "email"])
        if services.awaiting_verification(user):
            outcome = services.email_verify(uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
                                            token=services.verification_tokens.make_token(user))
            if outcome is services.Verification.INVALID:
                raise CommandError(f"{username}'s e-mail address could not be verified")
        self.stdout.write(f"Web user {username} ({user.email}) can sign in.")
