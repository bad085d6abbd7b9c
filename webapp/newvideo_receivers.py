"""The New video page's part in erasing an account: the product images the person uploaded go with it."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from accounts.signals import account_erasing
from video_generation import uploads
from video_generation.services.storage import StorageError

logger = logging.getLogger(__name__)


@receiver(account_erasing, dispatch_uid="webapp.delete_uploads")
def delete_uploads(sender, *, user_id, **kwargs) -> None:
    transaction.on_commit(lambda: _delete(user_id))  # once the erasure stands: a rolled-back one keeps them


def _delete(user_id) -> None:
    try:
        uploads.delete_user_uploads(user_id)
    except (StorageError, ValueError) as exc:
        logger.warning("webapp: the uploads of an erased account could not be deleted (%s)", type(exc).__name__)
