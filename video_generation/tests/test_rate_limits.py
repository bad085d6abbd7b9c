"""The generate rate limit: one counter per user and window, moved only by atomic cache operations."""

import threading

import pytest
from django.core.cache import cache

from video_generation import rate_limits
from video_generation.rate_limits import Rate, RateLimitExceeded, parse_rate, reserve_generate


class FakeUser:
    def __init__(self, pk):
        self.pk = pk


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch):
    """The module on its own: the plans' override (billing) has tests of its own."""
    monkeypatch.setattr(rate_limits, "_rate_overrides", [])


def test_an_override_sets_a_users_rate_and_none_leaves_the_setting(settings):
    settings.GENERATE_RATE_LIMIT = "10/hour"
    rate_limits.register_rate_override(lambda user: "3/minute" if user.pk == 1 else None)
    assert rate_limits.generate_rate(FakeUser(1)) == Rate(3, 60)
    assert rate_limits.generate_rate(FakeUser(2)) == Rate(10, 3600)


@pytest.mark.parametrize(("text", "rate"), [
    ("10/hour", Rate(10, 3600)), ("5/h", Rate(5, 3600)), ("2/min", Rate(2, 60)), ("1/second", Rate(1, 1)),
    ("100/day", Rate(100, 86400)),
])
def test_it_reads_drf_style_rates(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["ten/hour", "10/fortnight", "10", "10/"])
def test_it_refuses_a_rate_it_cannot_read(text):
    with pytest.raises(ValueError, match="invalid rate"):
        parse_rate(text)


def test_an_empty_rate_means_no_limit(settings):
    settings.GENERATE_RATE_LIMIT = ""
    for _ in range(50):
        reserve_generate(FakeUser(1))


def test_the_window_resets_on_the_clock_and_retry_after_counts_down_to_it(settings):
    settings.GENERATE_RATE_LIMIT = "2/hour"
    start = 36_000 * 3600.0  # on the hour
    reserve_generate(FakeUser(1), now=start)
    reserve_generate(FakeUser(1), now=start + 10)
    with pytest.raises(RateLimitExceeded) as refused:
        reserve_generate(FakeUser(1), now=start + 600)
    assert refused.value.wait == 3000
    reserve_generate(FakeUser(1), now=start + 3600)  # the next hour


def test_a_released_slot_can_be_used_again(settings):
    settings.GENERATE_RATE_LIMIT = "1/hour"
    reservation = reserve_generate(FakeUser(1))
    reservation.release()
    reservation.release()  # twice is harmless: it gives back one slot only
    reserve_generate(FakeUser(1))
    with pytest.raises(RateLimitExceeded):
        reserve_generate(FakeUser(1))


def test_many_simultaneous_requests_never_get_more_than_the_limit(settings):
    settings.GENERATE_RATE_LIMIT = "5/hour"
    accepted, barrier = [], threading.Barrier(40)

    def submit():
        barrier.wait()
        try:
            reserve_generate(FakeUser(7))
        except RateLimitExceeded:
            return
        accepted.append(1)

    threads = [threading.Thread(target=submit) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 5


def test_a_cache_outage_lets_requests_through_rather_than_taking_the_api_down(settings, monkeypatch, caplog):
    settings.GENERATE_RATE_LIMIT = "1/hour"

    def unavailable(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(cache, "add", unavailable)
    for _ in range(3):
        reserve_generate(FakeUser(1))
    assert "the cache is unavailable (ConnectionError)" in caplog.text
