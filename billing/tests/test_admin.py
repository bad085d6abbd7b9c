import re

import pytest
from django.contrib.auth.models import Permission

from billing.models import EntryKind, LedgerEntry, UserProfile

pytestmark = pytest.mark.django_db


def adjust_url(profile) -> str:
    return f"/admin/billing/userprofile/{profile.pk}/adjust/"


def form_key(response) -> str:
    return re.search(r'name="key" value="([^"]+)"', response.content.decode()).group(1)


def test_staff_grant_credits_with_a_reason_and_a_double_submit_posts_once(admin_client, user, admin_user):
    profile = UserProfile.objects.get(user=user)
    key = form_key(admin_client.get(adjust_url(profile)))
    form = {"credits": "20", "reason": "Sorry for the outage on the 3rd", "key": key}
    first = admin_client.post(adjust_url(profile), form)
    second = admin_client.post(adjust_url(profile), form)
    assert first.status_code == second.status_code == 302
    [entry] = LedgerEntry.objects.filter(kind=EntryKind.ADJUST)
    assert (entry.amount, entry.memo, entry.created_by) == (20, "Sorry for the outage on the 3rd", admin_user)
    profile.refresh_from_db()
    assert (profile.available_credits, profile.purchased_credits) == (35, 20)


@pytest.mark.parametrize(("form", "error"), [
    ({"credits": "0", "reason": "nothing"}, "changes nothing"),
    ({"credits": "-16", "reason": "too much"}, "16 credits needed, 15 available"),
    ({"credits": "5", "reason": ""}, "This field is required"),
])
def test_a_bad_adjustment_is_shown_on_the_form_and_posts_nothing(admin_client, user, form, error):
    profile = UserProfile.objects.get(user=user)
    response = admin_client.post(adjust_url(profile), {**form, "key": "adjust:form-test"})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUST).exists()


def test_staff_without_the_change_permission_cannot_adjust(client, user, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw-clerk-123", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_userprofile"))
    client.force_login(clerk)
    profile = UserProfile.objects.get(user=user)
    response = client.post(adjust_url(profile), {"credits": "500", "reason": "me", "key": "adjust:clerk"})
    assert response.status_code == 302
    assert not LedgerEntry.objects.filter(kind=EntryKind.ADJUST).exists()


def test_the_ledger_in_the_admin_is_read_only(admin_client, user):
    entry = LedgerEntry.objects.get(account__user=user)
    assert admin_client.get("/admin/billing/ledgerentry/").status_code == 200
    assert admin_client.get("/admin/billing/ledgerentry/add/").status_code == 403
    page = admin_client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/").content.decode()
    assert 'name="amount"' not in page
    admin_client.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/", {"post": "yes"})
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_the_accounts_list_shows_balances_and_usage(admin_client, user):
    page = admin_client.get("/admin/billing/userprofile/").content.decode()
    assert "alice" in page and "Credits (30 d)" in page and "Provider USD (30 d)" in page


def test_plans_are_editable_but_not_deletable(admin_client):
    from billing.plans import plan_named

    free = plan_named("free")
    assert admin_client.get(f"/admin/billing/plan/{free.pk}/change/").status_code == 200
    admin_client.post(f"/admin/billing/plan/{free.pk}/delete/", {"post": "yes"})
    assert plan_named("free").pk == free.pk
