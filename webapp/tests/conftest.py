"""Web app fixtures: a browser-like client, sign-up through the pages, and the links the e-mails carry."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail

PASSWORD = "correct-Horse-battery-9"
LINK = re.compile(r"https?://testserver(/\S+)")


@pytest.fixture(autouse=True)
def _mid_window():
    """Sign-in limits count in clock-aligned windows: every test runs well inside one (the clock still moves)."""
    with time_machine.travel(datetime(2030, 6, 12, 10, 5, tzinfo=UTC), tick=True):
        yield


def link_in(message) -> str:
    """The path of the one link in an e-mail."""
    found = LINK.findall(message.body)
    assert len(found) == 1, message.body
    return found[0]


def sign_up(client, *, username="carol", email="carol@example.com", password=PASSWORD):
    return client.post("/accounts/sign-up/", {"username": username, "email": email, "password1": password,
                                               "password2": password})


def sign_in(client, username="carol", password=PASSWORD, **extra):
    return client.post("/accounts/sign-in/", {"username": username, "password": password}, **extra)


@pytest.fixture
def verified(client, django_user_model):
    """Sign up "carol" through the page and follow the link she was mailed: an active user."""
    sign_up(client)
    client.get(link_in(mail.outbox[-1]))
    return django_user_model.objects.get(username="carol")
