"""One retry policy: exponential backoff with equal jitter, Retry-After honoured, attempt ceilings."""

from video_generation.services.retry import RetryPolicy

POLICY = RetryPolicy(max_attempts=5, base_seconds=2.0, cap_seconds=300.0)


def test_the_wait_doubles_with_each_failure_and_is_jittered_between_half_and_all_of_it():
    for attempts_made, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0)]:
        delays = [POLICY.delay(attempts_made) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4  # really jittered


def test_no_wait_is_longer_than_the_cap():
    assert all(POLICY.delay(30) <= 300.0 for _ in range(50))


def test_a_providers_retry_after_is_honoured_with_at_most_a_second_of_jitter_and_capped():
    assert all(7.0 <= POLICY.delay(1, retry_after=7.0) <= 8.0 for _ in range(50))
    assert all(POLICY.delay(1, retry_after=10_000) <= 301.0 for _ in range(50))


def test_the_ceiling_allows_exactly_max_attempts():
    assert [POLICY.exhausted(n) for n in range(1, 7)] == [False, False, False, False, True, True]
