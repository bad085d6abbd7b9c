"""After SECRET_KEY changed (the old one first in SECRET_KEY_FALLBACKS): rewrite every secret stored encrypted
(webhook endpoints' signing secrets) under the new key, so the fallback can be dropped."""

from django.core.management.base import BaseCommand

from video_saas.encryption import reencrypt_everything


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the current SECRET_KEY (run after rotating SECRET_KEY)."

    def handle(self, *args, **options):
        rewritten = reencrypt_everything()
        self.stdout.write(f"Re-encrypted {rewritten} row(s) under the current SECRET_KEY.")
