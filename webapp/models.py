from django.conf import settings
from django.db import models


class EmailVerification(models.Model):
    """A web sign-up's e-mail check: the account stays inactive until the link mailed to it is followed.

    Only accounts that have a pending row can be activated by a link, so an account an administrator deactivated
    is never switched back on by one."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verification")
    created_at = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {'verified' if self.verified_at else 'pending'}"
