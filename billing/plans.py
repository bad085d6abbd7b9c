"""The plans and credit packs the service starts with (seeded by a migration, editable in the admin afterwards).

One credit is worth the brief's price, $0.10 (each started 8 seconds of finished video); the plans sell them by
the month and the packs once.
"""

from decimal import Decimal

SEED_PLANS = {
    "free": {"name": "Free", "monthly_credits": 15, "price_usd": Decimal("0.00"), "max_scenes": 10,
             "max_jobs_in_flight": 5, "sort_order": 0},
    "pro": {"name": "Pro", "monthly_credits": 150, "price_usd": Decimal("15.00"), "max_scenes": 20,
            "max_jobs_in_flight": 20, "sort_order": 1},
    "enterprise": {"name": "Enterprise", "monthly_credits": None, "price_usd": Decimal("499.00"), "max_scenes": 20,
                   "max_jobs_in_flight": 100, "sort_order": 2},
}
SEED_PACKS = {
    "credits-50": {"name": "50 credits", "credits": 50, "price_usd": Decimal("5.00")},
    "credits-200": {"name": "200 credits", "credits": 200, "price_usd": Decimal("20.00")},
}
DEFAULT_PLAN = "free"


def seed(plan_model, pack_model) -> None:
    """Create the seeded plans and packs that do not exist (existing rows, maybe edited, are left alone)."""
    for code, fields in SEED_PLANS.items():
        plan_model.objects.get_or_create(code=code, defaults=fields)
    for code, fields in SEED_PACKS.items():
        pack_model.objects.get_or_create(code=code, defaults=fields)


def plan_named(code: str):
    """The plan with this code; the seeded ones are (re)created if missing, e.g. after a test flushed the tables."""
    from .models import CreditPack, Plan

    plan = Plan.objects.filter(code=code).first()
    if plan is None and code in SEED_PLANS:
        seed(Plan, CreditPack)
        plan = Plan.objects.get(code=code)
    if plan is None:
        raise Plan.DoesNotExist(f"no plan {code!r}")
    return plan


def plan_refusals(plan, job) -> dict[str, list[str]]:
    """What `plan` does not allow in `job`'s brief, as field errors worded for the customer (empty: all allowed)."""
    errors = {}
    if len(job.scenes_data) > plan.max_scenes:
        errors["scenes"] = [f"Your {plan.name} plan allows at most {plan.max_scenes} scenes per video "
                            f"(this brief has {len(job.scenes_data)})."]
    if not plan.offers(job.quality):
        errors["quality"] = [f"Your {plan.name} plan offers quality {', '.join(plan.allowed_qualities)} only."]
    return errors
