"""The cached catalogue (catalog.py): read from HeyGen once per TTL, and what it refuses."""

from __future__ import annotations

import datetime

import httpx
import pytest
import respx
import time_machine

from video_generation import catalog

API = "https://api.heygen.com"
LOOKS = {"data": [{"id": "josh_lite3_20230714", "name": "Josh", "avatar_type": "studio_avatar", "gender": "male"},
                  {"id": "lukas_photo", "name": "Lukas", "avatar_type": "photo_avatar", "gender": "male"}],
         "has_more": False}
VOICES = {"data": [{"voice_id": "d7bbcdd6964c47bdaae26decade4a933", "name": "Heart", "language": "English",
                    "gender": "female"}], "has_more": False}
START = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def heygen(settings):
    settings.HEYGEN_CATALOG_VALIDATION = True
    settings.HEYGEN_CATALOG_TTL_SECONDS = 600
    settings.HEYGEN_CATALOG_RETRY_SECONDS = 30
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.looks = router.get(f"{API}/v3/avatars/looks").respond(200, json=LOOKS)
        router.voices = router.get(f"{API}/v3/voices").respond(200, json=VOICES)
        yield router


def test_it_asks_heygen_once_per_ttl(heygen):
    with time_machine.travel(START, tick=False) as clock:
        assert catalog.avatars().find("josh_lite3_20230714")["name"] == "Josh"
        clock.shift(599)
        catalog.avatars()
        assert heygen.looks.call_count == 1
        clock.shift(2)
        catalog.avatars()
        assert heygen.looks.call_count == 2


def test_an_unreachable_heygen_is_asked_again_only_after_the_retry_time(heygen):
    heygen.looks.side_effect = httpx.ConnectTimeout("no answer")
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(3):
            with pytest.raises(catalog.CatalogUnavailable):
                catalog.avatars()
        assert heygen.looks.call_count == 1
        clock.shift(31)
        heygen.looks.side_effect = None
        assert catalog.avatars().complete
        assert heygen.looks.call_count == 2


def test_it_names_the_ids_it_does_not_list(heygen):
    assert catalog.unknown_ids(avatar_id="josh_lite3_20230714", voice_id="d7bbcdd6964c47bdaae26decade4a933") == {}
    errors = catalog.unknown_ids(avatar_id="nobody", voice_id="mute")
    assert set(errors) == {"avatar_id", "voice_id"}
    assert "/api/catalog/avatars/" in errors["avatar_id"][0]


def test_it_refuses_nothing_when_heygen_cannot_say(heygen):
    heygen.looks.respond(500, json={"error": {"code": "internal_error", "message": "down"}})
    heygen.voices.side_effect = httpx.ConnectError("refused")
    assert catalog.unknown_ids(avatar_id="nobody", voice_id="mute") == {}


def test_it_refuses_nothing_from_a_catalogue_cut_short(heygen, settings):
    settings.HEYGEN_CATALOG_MAX_PAGES = 1
    heygen.looks.respond(200, json={**LOOKS, "has_more": True, "next_token": "more"})
    assert "avatar_id" not in catalog.unknown_ids(avatar_id="on_page_two", voice_id="mute")


def test_it_checks_nothing_when_switched_off_or_for_legacy_renders(heygen, settings):
    settings.HEYGEN_CATALOG_VALIDATION = False
    assert catalog.unknown_ids(avatar_id="nobody", voice_id="mute") == {}
    settings.HEYGEN_CATALOG_VALIDATION, settings.HEYGEN_API_VERSION = True, "v2"
    assert catalog.unknown_ids(avatar_id="nobody", voice_id="mute") == {}
    assert heygen.looks.call_count == 0


def test_it_knows_which_avatars_render_transparent(heygen):
    assert catalog.avatar_transparency("josh_lite3_20230714") is True
    assert catalog.avatar_transparency("lukas_photo") is False
    assert catalog.avatar_transparency("not_listed") is None


def test_filters_ignore_case_and_empty_values(heygen):
    voices = catalog.voices()
    assert len(voices.select(language="english", gender="")) == 1
    assert voices.select(gender="male") == []


def test_a_submit_is_checked_against_the_cached_ids_without_reading_the_whole_catalogue(heygen):
    from django.core.cache import cache

    catalog.avatars(), catalog.voices()
    cache.delete_many([catalog.cache_key(catalog.AVATARS), catalog.cache_key(catalog.VOICES)])

    errors = catalog.unknown_ids(avatar_id="nobody", voice_id="d7bbcdd6964c47bdaae26decade4a933")

    assert set(errors) == {"avatar_id"}
    assert (heygen.looks.call_count, heygen.voices.call_count) == (1, 1)


@pytest.mark.services
def test_on_redis_the_catalogue_read_by_one_process_serves_the_others(heygen, settings):
    import os
    import uuid

    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    prefix = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": os.environ["REDIS_URL"], "KEY_PREFIX": prefix}}
    try:
        catalog.avatars()
        caches.close_all()  # another process: its own connections, the same Redis
        elsewhere = RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": prefix})
        assert elsewhere.get(catalog.cache_key(catalog.AVATARS))["complete"] is True
        assert catalog.known_ids(catalog.AVATARS) == (frozenset({"josh_lite3_20230714", "lukas_photo"}), True)
        assert catalog.avatar_transparency("lukas_photo") is False
        assert heygen.looks.call_count == 1
    finally:  # only this test's keys (clear() would flush the whole Redis database)
        caches["default"].delete_many([catalog.cache_key(catalog.AVATARS), f"{catalog.cache_key(catalog.AVATARS)}:ids"])
