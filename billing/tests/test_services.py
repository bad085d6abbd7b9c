import pytest

from billing import services
from billing.models import UserProfile
from billing.plans import plan_named

pytestmark = pytest.mark.django_db


def test_a_plans_rate_limit_is_remembered_for_a_minute(user, monkeypatch, django_assert_num_queries):
    now = [1000.0]
    monkeypatch.setattr(services.clock, "monotonic", lambda: now[0])
    pro = plan_named("pro")
    pro.generate_rate_limit = "5/hour"
    pro.save()
    UserProfile.objects.filter(user=user).update(plan=pro)
    assert services.plan_rate_limit(user) == "5/hour"
    pro.generate_rate_limit = "7/hour"
    pro.save()
    with django_assert_num_queries(0):
        assert services.plan_rate_limit(user) == "5/hour"
    now[0] += services.PLAN_RATE_TTL_SECONDS + 1
    assert services.plan_rate_limit(user) == "7/hour"


def test_a_plan_without_its_own_rate_leaves_the_setting(user):
    assert services.plan_rate_limit(user) is None
