from django.conf import settings
from django.db import migrations
from django.utils import timezone

from billing.plans import DEFAULT_PLAN, seed


def seed_plans_and_accounts(apps, schema_editor):
    """The seeded plans and packs, and an account on the free plan for every existing user. Their period is due at
    once, so the first rollover (the beat task, or the first read of the account) grants the credits through the
    ledger like any other grant."""
    plans, packs = apps.get_model("billing", "Plan"), apps.get_model("billing", "CreditPack")
    seed(plans, packs)
    profiles = apps.get_model("billing", "UserProfile")
    users = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    free = plans.objects.get(code=DEFAULT_PLAN)
    now = timezone.now()
    profiles.objects.bulk_create(
        profiles(user_id=user_id, plan=free, period_start=now, period_end=now)
        for user_id in users.objects.filter(profile__isnull=True).values_list("id", flat=True))


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(seed_plans_and_accounts, migrations.RunPython.noop)]
