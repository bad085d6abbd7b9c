"""The shared limiter: a window of requests with reservations in order, and slots in flight with leases. Each rule
is checked on the in-memory store and on Redis (the Redis ones are `services` tests: they need REDIS_URL)."""

from __future__ import annotations

import os
import secrets
import threading

import pytest

from video_generation.services import limiter


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.services)])
def store(request, settings):
    """The limiter on one store, with keys of its own."""
    if request.param == "redis":
        settings.ADMISSION_REDIS_URL = os.environ["REDIS_URL"]
    else:
        settings.ADMISSION_REDIS_URL = ""
        limiter.reset_memory()
    yield f"test-{secrets.token_hex(6)}"
    if request.param == "redis":
        client = limiter.backend().client
        for key in client.scan_iter(f"{limiter.KEY_PREFIX}test-*"):
            client.delete(key)


def take(name, holder, now, limit=3, window=60.0):
    return limiter.take_window(name, limit=limit, window=window, now=now, holder=holder)


class TestWindow:
    def test_admits_up_to_the_limit_and_then_tells_the_next_caller_when_its_turn_comes(self, store):
        assert [take(store, f"s{i}", 1000.0 + i).admitted for i in range(3)] == [True, True, True]
        refused = take(store, "s3", 1003.0)
        assert not refused.admitted
        assert refused.wait_seconds == pytest.approx(57.0)  # when the first request leaves the window

    def test_callers_over_the_limit_are_given_turns_in_order_not_all_the_same_one(self, store):
        for i in range(3):
            take(store, f"s{i}", 1000.0 + i)
        waits = [take(store, f"late{i}", 1010.0).wait_seconds for i in range(4)]
        assert waits == pytest.approx([50.0, 51.0, 52.0, 110.0])

    def test_a_caller_coming_back_early_is_told_the_same_turn_and_does_not_take_a_second_one(self, store):
        for i in range(3):
            take(store, f"s{i}", 1000.0 + i)
        first = take(store, "late", 1010.0)  # its turn: 1060
        again = take(store, "late", 1020.0)
        assert again.wait_seconds == pytest.approx(first.wait_seconds - 10.0)
        assert take(store, "later", 1020.0).wait_seconds == pytest.approx(41.0)  # the next turn, not the same one

    def test_a_reservation_admits_its_holder_at_its_time_and_nobody_else(self, store):
        for i in range(3):
            take(store, f"s{i}", 1000.0 + i)
        take(store, "late", 1010.0)  # reserved for 1060
        assert not take(store, "intruder", 1060.0).admitted
        assert take(store, "late", 1060.0).admitted

    def test_a_holder_admitted_once_is_counted_again_when_it_asks_again(self, store):
        assert take(store, "same", 1000.0, limit=2).admitted
        assert take(store, "same", 1001.0, limit=2).admitted
        assert not take(store, "same", 1002.0, limit=2).admitted

    def test_never_more_than_the_limit_in_any_window_under_a_steady_stream(self, store):
        sent = []
        now = 1000.0
        pending = {}
        for i in range(40):  # a caller arrives every 2 s; the limit is 3 a minute
            now = 1000.0 + 2 * i
            pending[f"c{i}"] = now
            for holder, due in sorted(pending.items(), key=lambda item: item[1]):
                if due <= now:
                    verdict = take(store, holder, now)
                    if verdict.admitted:
                        sent.append(now)
                        del pending[holder]
                    else:
                        pending[holder] = now + verdict.wait_seconds
        assert sent
        assert all(sum(1 for t in sent if start <= t < start + 60) <= 3 for start in sent)

    def test_a_request_given_back_frees_its_place(self, store):
        for i in range(3):
            take(store, f"s{i}", 1000.0)
        limiter.give_back_window(store, holder="s1")
        assert take(store, "next", 1001.0).admitted

    def test_a_limit_of_zero_is_no_limit(self, store):
        assert all(take(store, f"s{i}", 1000.0, limit=0).admitted for i in range(100))

    def test_separate_names_count_separately(self, store):
        for i in range(3):
            take(store + "a", f"s{i}", 1000.0)
        assert take(store + "b", "s9", 1000.0).admitted

    def test_many_threads_at_once_never_get_more_than_the_limit(self, store):
        barrier = threading.Barrier(16)
        admitted = []

        def ask(i):
            barrier.wait()
            if take(store, f"t{i}", 1000.0, limit=5).admitted:
                admitted.append(i)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(admitted) == 5


def take_slot(name, holder, now, limit=2, lease=100.0):
    return limiter.take_slot(name, limit=limit, now=now, holder=holder, lease=lease)


class TestSlots:
    def test_at_most_the_limit_are_held_at_once(self, store):
        assert take_slot(store, "a", 0.0).admitted and take_slot(store, "b", 0.0).admitted
        refused = take_slot(store, "c", 10.0)
        assert not refused.admitted and refused.wait_seconds == pytest.approx(90.0)

    def test_a_released_slot_goes_to_the_next_caller(self, store):
        take_slot(store, "a", 0.0)
        take_slot(store, "b", 0.0)
        limiter.release_slots(store, ["a"])
        assert take_slot(store, "c", 1.0).admitted
        assert sorted(limiter.slot_holders(store)) == ["b", "c"]

    def test_a_holder_asking_again_keeps_its_one_slot(self, store):
        take_slot(store, "a", 0.0)
        assert take_slot(store, "a", 1.0).admitted
        assert take_slot(store, "b", 1.0).admitted
        assert limiter.slot_holders(store).count("a") == 1

    def test_a_slot_nobody_renews_frees_itself_when_its_lease_ends(self, store):
        take_slot(store, "crashed", 0.0)
        take_slot(store, "b", 0.0)
        assert not take_slot(store, "c", 99.0).admitted
        assert take_slot(store, "c", 100.5).admitted

    def test_a_renewed_slot_outlives_its_first_lease(self, store):
        take_slot(store, "alive", 0.0)
        take_slot(store, "b", 0.0)
        limiter.renew_slot(store, holder="alive", now=90.0, lease=100.0)
        limiter.release_slots(store, ["b"])
        assert take_slot(store, "c", 150.0).admitted
        assert not take_slot(store, "d", 150.0).admitted  # "alive" (until 190) and "c" hold both

    def test_renewing_a_slot_that_was_released_does_not_take_it_back(self, store):
        take_slot(store, "a", 0.0)
        limiter.release_slots(store, ["a"])
        limiter.renew_slot(store, holder="a", now=1.0, lease=100.0)
        assert limiter.slot_holders(store) == []

    def test_many_threads_at_once_never_hold_more_than_the_limit(self, store):
        barrier = threading.Barrier(12)
        admitted = []

        def ask(i):
            barrier.wait()
            if take_slot(store, f"t{i}", 0.0, limit=3).admitted:
                admitted.append(i)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(admitted) == 3 and len(limiter.slot_holders(store)) == 3


def test_an_unreachable_redis_lets_the_caller_through(settings):
    settings.ADMISSION_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    assert limiter.take_window("x", limit=1, window=60.0, now=0.0, holder="a").admitted
    assert limiter.take_window("x", limit=1, window=60.0, now=0.0, holder="b").admitted
    assert limiter.take_slot("y", limit=1, now=0.0, holder="a", lease=10.0).admitted
