"""Billing's hooks for the domains built on it (webhooks today). Billing never imports those domains: they connect
receivers in their AppConfig.ready().

- `credits_low(user_id, available, threshold)`: a ledger entry has just taken the account's available credits
  from at least CREDITS_LOW_THRESHOLD to below it. Sent once per crossing (a balance that stays low sends nothing
  more until it has been back at or above the threshold), inside the transaction that posts the entry, so what a
  receiver writes commits or rolls back with it.
"""

from django.dispatch import Signal

credits_low = Signal()
