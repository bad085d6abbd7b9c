"""The avatars and voices a brief may name: HeyGen's v3 catalogue (heygen_service), kept in the cache.

Each catalogue (avatars, voices) is read whole, page after page, and kept HEYGEN_CATALOG_TTL_SECONDS in the Django
cache (Redis, shared by every process, when REDIS_URL is set). When HeyGen cannot answer, that is remembered for
HEYGEN_CATALOG_RETRY_SECONDS, so a burst of submits does not wait on it one by one; meanwhile the catalogue is
*unavailable*: the list endpoints answer 503, and submits are not blocked (the ids are checked at render time).

One rule decides what is refused (`unknown_ids`): an id absent from a catalogue that was read completely. A
catalogue cut short at HEYGEN_CATALOG_MAX_PAGES, or one that cannot be read, refuses nothing.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from .pipeline import providers
from .services.errors import ProviderError
from .services.heygen_service import Listing
from .services.safe_http import UnsafeUrl, fetch_to_file

logger = logging.getLogger(__name__)

CACHE_VERSION = "v1"  # change when the cached items' shape changes
AVATARS, VOICES = "avatars", "voices"
ID_FIELDS = {AVATARS: "avatar_id", VOICES: "voice_id"}


class CatalogUnavailable(Exception):
    """HeyGen's catalogue cannot be read just now."""


@dataclass(frozen=True)
class Catalogue:
    kind: str
    items: tuple[dict, ...]
    complete: bool  # False: HeyGen had more pages than HEYGEN_CATALOG_MAX_PAGES

    def find(self, item_id: str) -> dict | None:
        id_field = ID_FIELDS[self.kind]
        return next((item for item in self.items if item[id_field] == item_id), None)

    def select(self, **filters: str) -> list[dict]:
        """The items whose fields equal every non-empty filter, ignoring case."""
        wanted = {name: value.casefold() for name, value in filters.items() if value}
        return [item for item in self.items
                if all(str(item.get(name) or "").casefold() == value for name, value in wanted.items())]


def avatars() -> Catalogue:
    return _load(AVATARS, lambda: providers.heygen().list_avatar_looks())


def voices() -> Catalogue:
    return _load(VOICES, lambda: providers.heygen().list_voices())


def unknown_ids(*, avatar_id: str, voice_id: str) -> dict[str, list[str]]:
    """Field errors for the ids the catalogue does not list; nothing for a catalogue that cannot say, nor when
    HEYGEN_CATALOG_VALIDATION is off or the renders are legacy v2 (whose avatar ids are not v3 looks)."""
    errors: dict[str, list[str]] = {}
    if not settings.HEYGEN_CATALOG_VALIDATION or settings.HEYGEN_API_VERSION != "v3":
        return errors
    for kind, value in ((AVATARS, avatar_id), (VOICES, voice_id)):
        try:
            ids, complete = known_ids(kind)
        except CatalogUnavailable:
            continue
        if complete and value not in ids:
            errors[ID_FIELDS[kind]] = [f"Not in the catalogue: see GET /api/catalog/{kind}/ for the ids you can use."]
    return errors


def known_ids(kind: str) -> tuple[frozenset[str], bool]:
    """(the catalogue's ids, whether it was read completely): what a submit checks, kept in the cache beside the
    catalogue so that a submit does not read the whole of it."""
    cached = _cache_get(_ids_key(kind))
    if cached is None:
        cached = _ids_entry(LOADERS[kind]())
        _cache_set(_ids_key(kind), cached, settings.HEYGEN_CATALOG_TTL_SECONDS)
    return cached["ids"], cached["complete"]


def _ids_entry(catalogue: Catalogue) -> dict:
    return {"ids": frozenset(item[ID_FIELDS[catalogue.kind]] for item in catalogue.items),
            "complete": catalogue.complete}


LOADERS = {AVATARS: avatars, VOICES: voices}


def avatar_transparency(avatar_id: str) -> bool | None:
    """Whether the avatar can be rendered transparent, as the catalogue says; None when it does not know."""
    try:
        look = avatars().find(avatar_id)
    except CatalogUnavailable:
        return None
    return None if look is None else look["transparent"]


# --- previews ---------------------------------------------------------------------------------------------------
# The web app shows a presenter's picture and plays a voice's sample from our own origin (its pages load nothing from
# a third party): the file behind the catalogue's preview link is fetched once through safe_http and kept in the
# cache as long as the catalogue.

PREVIEW_FIELDS = {AVATARS: "preview_image_url", VOICES: "preview_audio_url"}
PREVIEW_TYPES = {AVATARS: frozenset({"image/png", "image/jpeg", "image/webp"}),
                 VOICES: frozenset({"audio/mpeg", "audio/mp3", "audio/wav", "audio/x-wav", "audio/ogg", "audio/webm",
                                    "audio/mp4", "audio/aac"})}
PREVIEW_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Preview:
    content_type: str
    body: bytes


def preview(kind: str, item_id: str) -> Preview | None:
    """The preview file of a catalogue item (an avatar's image, a voice's sample), or None when the item is not in
    the catalogue, has no preview, or its preview cannot be fetched as one of PREVIEW_TYPES."""
    key = f"{cache_key(kind)}:preview:{hashlib.sha256(item_id.encode()).hexdigest()[:32]}"
    cached = _cache_get(key)
    if cached is not None:
        return cached or None  # False: known to have none
    try:
        item = LOADERS[kind]().find(item_id)
    except CatalogUnavailable:
        return None
    url = (item or {}).get(PREVIEW_FIELDS[kind]) or ""
    found = _fetch_preview(url, PREVIEW_TYPES[kind]) if url else None
    _cache_set(key, found or False, settings.HEYGEN_CATALOG_TTL_SECONDS if item else
               settings.HEYGEN_CATALOG_RETRY_SECONDS)
    return found


def _fetch_preview(url: str, types: frozenset[str]) -> Preview | None:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "preview"
        try:
            fetched = fetch_to_file(url, target, max_bytes=PREVIEW_MAX_BYTES, allowed_content_types=types,
                                    deadline_seconds=10.0, provider="heygen")
        except (ProviderError, UnsafeUrl) as exc:
            logger.warning("heygen catalogue preview unavailable (%s)", type(exc).__name__)
            return None
        return Preview(content_type=fetched.content_type, body=target.read_bytes())


# --- cache ------------------------------------------------------------------------------------------------------

def cache_key(kind: str) -> str:
    return f"heygen-catalog:{CACHE_VERSION}:{kind}"


def _ids_key(kind: str) -> str:
    return f"{cache_key(kind)}:ids"


def _down_key(kind: str) -> str:
    return f"{cache_key(kind)}:down"


def _load(kind: str, fetch: Callable[[], Listing]) -> Catalogue:
    cached = _cache_get(cache_key(kind))
    if cached is not None:
        return Catalogue(kind, tuple(cached["items"]), cached["complete"])
    if _cache_get(_down_key(kind)):
        raise CatalogUnavailable(kind)
    try:
        listing = fetch()
    except ProviderError as exc:
        logger.warning("heygen %s catalogue unavailable (%s %s)", kind, type(exc).__name__, exc.code)
        _cache_set(_down_key(kind), True, settings.HEYGEN_CATALOG_RETRY_SECONDS)
        raise CatalogUnavailable(kind) from None
    catalogue = Catalogue(kind, tuple(asdict(item) for item in listing.items), listing.complete)
    _cache_set(cache_key(kind), {"items": list(catalogue.items), "complete": catalogue.complete},
               settings.HEYGEN_CATALOG_TTL_SECONDS)
    _cache_set(_ids_key(kind), _ids_entry(catalogue), settings.HEYGEN_CATALOG_TTL_SECONDS)
    return catalogue


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception as exc:  # a cache that is down costs a fresh read, never the request
        logger.warning("catalogue cache unavailable (%s)", type(exc).__name__)
        return None


def _cache_set(key: str, value, ttl: int) -> None:
    try:
        cache.set(key, value, ttl)
    except Exception as exc:
        logger.warning("catalogue cache unavailable (%s)", type(exc).__name__)
