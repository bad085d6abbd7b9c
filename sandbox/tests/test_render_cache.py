import threading

from sandbox.render_cache import RenderCache, render_key


def test_a_disabled_cache_renders_every_time():
    calls = []
    cache = RenderCache(enabled=False)
    for _ in range(3):
        cache.get_or_render("k", lambda: calls.append(1) or b"video")
    assert len(calls) == 3


def test_identical_requests_render_once_even_when_they_arrive_together():
    calls = []
    cache = RenderCache(enabled=True)
    barrier = threading.Barrier(8)

    def request():
        barrier.wait()
        assert cache.get_or_render("same", lambda: calls.append(1) or b"video") == b"video"

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1


def test_the_oldest_render_is_dropped_past_capacity():
    cache = RenderCache(enabled=True, capacity=2)
    for key in ("a", "b", "c"):
        cache.get_or_render(key, lambda key=key: key)
    calls = []
    cache.get_or_render("a", lambda: calls.append(1) or "a")
    assert calls == [1]


def test_keys_differ_when_any_input_differs():
    assert render_key(b"img", "prompt", 8) != render_key(b"img", "prompt", 6)
    assert render_key(b"img", "prompt", 8) == render_key(b"img", "prompt", 8)
