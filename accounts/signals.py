"""The hook for domains that keep data of a user: sent inside the erasure's transaction, before the user row goes.

- `account_erasing(user_id)`: the user is being erased. Rows with a ForeignKey to the user and on_delete=CASCADE
  (API keys, webhook endpoints, DRF tokens) go with the user anyway; a receiver deletes or anonymises anything
  else of theirs (and what it must not lose, it writes as a row in the same transaction). Raising undoes the
  erasure.
"""

from django.dispatch import Signal

account_erasing = Signal()
