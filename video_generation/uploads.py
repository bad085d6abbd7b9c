"""Product images uploaded through the web app: checked, kept in our storage under the uploader's own prefix, and
read back by the pipeline's FetchImage step for the uploader's jobs only.

A job's `image_url` is normally an http(s) URL that FetchImage fetches (services/safe_http.py). A job made from an
upload points at the stored object instead (its storage URI, exactly as `stored_image_uri` builds it). Only
server-side code that stored the file can set such a value: the API's `image_url` accepts http(s) URLs and nothing
else (validators.public_url). FetchImage reads a stored image only when it is under the job owner's prefix, so
even a job whose `image_url` named someone else's upload (or any other object of ours) could not read it.

An image is judged by its content (Pillow reads its header), never by its file name or the type a browser sent.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from .services.errors import PermanentError
from .services.storage import ObjectNotFoundError, get_storage

UPLOADS_ROOT = "uploads"
# Pillow's format name -> (the content type we store and fetch with, the file extension)
IMAGE_FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "WEBP": ("image/webp", "webp")}
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}\.(?:png|jpg|webp)")
PROVIDER = "storage"


class ImageRefused(ValueError):
    """The upload is not an image we take; `message` says why, for the person who sent it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredImage:
    name: str  # the upload's own name under the user's prefix (what a form may carry between requests)
    uri: str
    content_type: str
    size: int


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def image_type(handle: BinaryIO) -> str:
    """The content type of a PNG, JPEG or WebP image read from `handle`, or ImageRefused. Pillow reads the header
    and checks the structure it can without decoding the pixels (verify)."""
    handle.seek(0)
    try:
        with Image.open(handle) as image:
            found = image.format
            image.verify()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageRefused("This file is not an image we can read. Upload a PNG, JPEG or WebP picture.") from None
    except Exception:  # Pillow raises many kinds (SyntaxError, OSError, struct.error ...) for a broken file
        raise ImageRefused("This image file is damaged or incomplete. Upload a PNG, JPEG or WebP picture.") from None
    finally:
        handle.seek(0)
    if found not in IMAGE_FORMATS:
        raise ImageRefused(f"This is a {found} image; we take PNG, JPEG or WebP only.")
    return IMAGE_FORMATS[found][0]


def check_size(size: int) -> None:
    limit = settings.IMAGE_MAX_BYTES
    if size > limit:
        raise ImageRefused(f"This image is {megabytes(size)}; the largest we take is {megabytes(limit)}.")
    if size == 0:
        raise ImageRefused("This file is empty. Upload a PNG, JPEG or WebP picture.")


def user_prefix(user_id) -> str:
    return f"{UPLOADS_ROOT}/{int(user_id)}"


def upload_path(user_id, name: str) -> str:
    if not UPLOAD_NAME.fullmatch(name or ""):
        raise ValueError("not an upload name")
    return f"{user_prefix(user_id)}/{name}"


def store_image(user_id, handle: BinaryIO, size: int) -> StoredImage:
    """Check the upload (size, then content) and keep it under the user's prefix with a name nobody can guess."""
    check_size(size)
    content_type = image_type(handle)
    extension = next(ext for kind, ext in IMAGE_FORMATS.values() if kind == content_type)
    name = f"{secrets.token_hex(16)}.{extension}"
    uri = get_storage().upload_bytes(handle.read(), upload_path(user_id, name), content_type)
    return StoredImage(name=name, uri=uri, content_type=content_type, size=size)


def stored_image(user_id, name: str) -> StoredImage | None:
    """The user's earlier upload called `name` (as store_image named it), or None if the name is not one or the file
    is gone. Only the user's own prefix is ever looked at."""
    try:
        uri = get_storage().uri_for(upload_path(user_id, name))
        handle, size, _type = get_storage().open_for_media(uri)  # its size, without reading it
    except (ValueError, ObjectNotFoundError):
        return None
    handle.close()
    extension = name.rsplit(".", 1)[-1]
    content_type = next(kind for kind, ext in IMAGE_FORMATS.values() if ext == extension)
    return StoredImage(name=name, uri=uri, content_type=content_type, size=size)


def is_stored_image(image_url: str) -> bool:
    """Whether a job's image is one of our stored objects rather than a URL to fetch."""
    return not image_url.lower().startswith(("http://", "https://"))


def owners_upload_path(image_url: str, user_id) -> str | None:
    """The storage path of `image_url` if it is exactly one of this user's uploads, else None. The URI must be the
    one store_image made for the user (compared whole), so no spelling of another path can pass."""
    name = image_url.rsplit("/", 1)[-1]
    try:
        path = upload_path(user_id, name)
    except ValueError:
        return None
    return path if get_storage().uri_for(path) == image_url else None


def copy_for_job(image_url: str, user_id, target: Path) -> tuple[str, int]:
    """Copy the job owner's uploaded image to `target`: (content type, bytes). Anything that is not exactly one of
    the owner's uploads, or that is no longer a valid image, fails the step (PermanentError)."""
    if owners_upload_path(image_url, user_id) is None:
        raise PermanentError("The product image is not one of this account's uploads", provider=PROVIDER,
                             code="url_not_allowed")
    try:
        get_storage().download_to(image_url, target)
    except ObjectNotFoundError:
        raise PermanentError("The uploaded product image is no longer stored", provider=PROVIDER,
                             code="image_not_found") from None
    size = target.stat().st_size
    try:
        check_size(size)
        with target.open("rb") as handle:
            content_type = image_type(handle)
    except ImageRefused as refused:
        raise PermanentError(refused.message, provider=PROVIDER, code="unsupported_content_type") from None
    return content_type, size


def delete_user_uploads(user_id) -> int:
    """Delete every upload of the user (their account is being erased): how many files went."""
    storage = get_storage()
    uris = storage.list_uris(storage.uri_for(user_prefix(user_id)) + "/")
    return sum(storage.delete(uri) for uri in uris)
