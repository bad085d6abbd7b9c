"""`manage.py erase_account`: the same erasure as the API, for support."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from billing.models import UserProfile

pytestmark = pytest.mark.django_db


def test_it_erases_the_user_named_twice(user, other_user, capsys):
    call_command("erase_account", "alice", "--confirm", "alice")
    assert capsys.readouterr().out.strip() == "alice was erased"
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["bob"]
    assert UserProfile.objects.filter(user__isnull=True, erased_at__isnull=False).count() == 1


@pytest.mark.parametrize("args", [["alice", "--confirm", "bob"], ["nobody", "--confirm", "nobody"]])
def test_it_refuses_a_mismatch_or_an_unknown_user(user, args):
    with pytest.raises(CommandError):
        call_command("erase_account", *args)
    assert get_user_model().objects.filter(username="alice").exists()


def test_it_refuses_while_a_subscription_runs(user):
    UserProfile.objects.filter(user=user).update(stripe_subscription_id="sub_1")
    with pytest.raises(CommandError, match="subscription"):
        call_command("erase_account", "alice", "--confirm", "alice")
    assert get_user_model().objects.filter(username="alice").exists()
