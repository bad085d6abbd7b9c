"""The New video page's work, on the API's own services: the request body its form makes, checked by the API's
serializer, priced by pricing.quote, admitted by the plan's rules and started by the API's start_video.

The one thing only the web app can do is give the product image as an upload (video_generation/uploads.py): the
body is then checked without an image_url, and the upload's storage URI is set on the validated data, server-side.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.urls import reverse

from billing import services as billing
from billing.plans import plan_refusals
from video_generation import catalog, uploads
from video_generation.pipeline import pricing
from video_generation.serializers import (
    MAX_SCENES,
    MIN_SCENES,
    HttpUrlField,
    VideoGenerationRequestSerializer,
)

from .newvideo_forms import CAPTION_FIELDS, CUSTOM_POSITION, POSITION_FIELDS, SCENE_FIELDS

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY = re.compile(r"web-[0-9a-f]{32}")
OPTIONAL_CHOICES = ("aspect_ratio", "quality", "broll_fit", "scene_transitions")


class WebVideoRequestSerializer(VideoGenerationRequestSerializer):
    """The API's request with the image_url optional: the page may give an upload instead (set after validation)."""

    image_url = HttpUrlField(required=False, help_text="The product image, unless it was uploaded.")


def new_idempotency_key() -> str:
    return f"web-{uuid.uuid4().hex}"


def job_path(job_id) -> str:
    return reverse("webapp:job", kwargs={"job_id": job_id})


# --- The body --------------------------------------------------------------------------------------------------

def _number(text: str):
    """A typed number as JSON would carry it; anything else as typed, for the serializer to refuse in words."""
    try:
        return float(text)
    except ValueError:
        return text


def _integer(text: str):
    return int(text) if text.isdigit() else text


def request_body(cleaned: dict, scenes: list[dict], *, with_image_url: bool) -> dict:
    """The generate request the form describes (the API's field names and JSON types)."""
    body = {
        "product_title": cleaned["product_title"],
        "product_id": cleaned["product_id"] or None,
        "avatar_id": cleaned["avatar_id"],
        "voice_id": cleaned["voice_id"],
        "avatar_script": cleaned["avatar_script"],
        "broll_audio": bool(cleaned["broll_audio"]),
        "scenes": [{"visual_description": scene["description"], "camera_movement": scene["camera_movement"],
                    "mood": scene["mood"], "duration": _integer(scene["duration"] or "8"),
                    "text_overlay": scene["text_overlay"]} for scene in scenes],
        "captions": {"enabled": bool(cleaned["captions_enabled"]),
                     **{api: cleaned[name] for api, name in CAPTION_FIELDS.items() if api != "enabled"
                        and cleaned[name]}},
    }
    if with_image_url:
        body["image_url"] = cleaned["image_url"]
    body.update({name: cleaned[name] for name in OPTIONAL_CHOICES if cleaned[name]})
    preset = cleaned["avatar_position"]
    if preset and preset != CUSTOM_POSITION:
        body["avatar_position"] = preset
    elif preset == CUSTOM_POSITION:
        body["avatar_position"] = {api: _number(cleaned[name]) for api, name in POSITION_FIELDS.items()
                                   if cleaned[name] != ""}
    return body


def checked(body: dict) -> WebVideoRequestSerializer:
    serializer = WebVideoRequestSerializer(data=body)
    serializer.is_valid()
    return serializer


def quote(body: dict) -> pricing.Quote | None:
    """The API's quote (POST /api/video/quote/) for a complete form; None while it is not."""
    serializer = checked(body)
    return pricing.quote(serializer.validated_data) if not serializer.errors else None


@dataclass(frozen=True)
class ScriptLength:
    words: int
    narration_seconds: float


def script_length(script: str) -> ScriptLength:
    return ScriptLength(pricing.word_count(script), pricing.narration_seconds(script))


# --- Errors in words -------------------------------------------------------------------------------------------

@dataclass
class PersonErrors:
    """Field name (the form's) -> messages; scene index -> its fields' messages; the scene list's own."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    scenes: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    scene_list: list[str] = field(default_factory=list)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.scenes or self.scene_list or self.general)

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)


def _numbers_in(text: str) -> list[str]:
    return re.findall(r"-?\d+(?:\.\d+)?", text)


def in_words(error, *, field_name: str = "") -> str:
    """A serializer message as a person reads it (DRF's stock phrases reworded; the API's own sentences kept)."""
    code, text = getattr(error, "code", ""), str(error)
    if code in ("required", "blank", "null"):
        return "Please fill this in."
    if code == "max_length":
        limit = _numbers_in(text)[0]
        has = re.search(r"it has (\d+)", text)
        return f"This is too long: at most {limit} characters" + (f" (it has {has.group(1)})." if has else ".")
    if code in ("min_value", "max_value"):
        return f"Enter a number {'of at least' if code == 'min_value' else 'of at most'} {_numbers_in(text)[-1]}."
    if code == "invalid" and "number" in text:
        return "Enter a number, e.g. 0.5."
    if code == "invalid_choice" and field_name != "duration":
        return "Choose one of the options."
    if text.startswith("Not in the catalogue"):
        what = "presenter" if field_name == "avatar_id" else "voice"
        return f"This {what} is not in the catalogue (any more). Choose another."
    return text


def _messages(errors, field_name: str) -> list[str]:
    if isinstance(errors, dict):  # a nested object's errors, flattened onto one input
        return [message for value in errors.values() for message in _messages(value, field_name)]
    return [in_words(error, field_name=field_name) for error in errors]


def person_errors(errors: dict) -> PersonErrors:
    """The serializer's errors (or a refusal's details, the same shape) placed on the form's inputs."""
    found = PersonErrors()
    for name, value in errors.items():
        if name == "scenes":
            _scene_errors(value, found)
        elif name == "avatar_position" and isinstance(value, dict):
            for api, messages in value.items():
                for message in _messages(messages, api):
                    found.add(POSITION_FIELDS.get(api, "avatar_position"), message)
        elif name == "captions" and isinstance(value, dict):
            for api, messages in value.items():
                for message in _messages(messages, api):
                    found.add(CAPTION_FIELDS.get(api, "captions_enabled"), message)
        elif name == "non_field_errors":
            found.general.extend(_messages(value, name))
        else:
            for message in _messages(value, name):
                found.add(name, message)
    return found


def _scene_errors(value, found: PersonErrors) -> None:
    if isinstance(value, dict):  # {index: {field: [...]}}
        for index, scene in value.items():
            target = found.scenes.setdefault(int(index), {})
            items = scene.items() if isinstance(scene, dict) else [("description", scene)]
            for api, messages in items:
                target.setdefault(SCENE_FIELDS.get(api, "description"), []).extend(_messages(messages, api))
        return
    for error in value:
        code = getattr(error, "code", "")
        if code == "min_length":
            found.scene_list.append(f"A video needs at least {MIN_SCENES} scene.")
        elif code == "max_length" and "elements" in str(error):
            found.scene_list.append(f"A video has at most {MAX_SCENES} scenes.")
        else:
            found.scene_list.append(in_words(error))


# --- The plan, the image, the start ------------------------------------------------------------------------------

def plan_of(user):
    return billing.account(user).plan


def plan_errors(user, data: dict) -> PersonErrors:
    """What the user's plan does not allow in this brief (billing's own rule), before anything is held."""
    brief = SimpleNamespace(scenes_data=data["scenes"], quality=data["quality"])
    return person_errors(plan_refusals(plan_of(user), brief))


def catalogue() -> tuple[list[dict] | None, list[dict] | None]:
    """The avatars and voices the pickers offer; None for a catalogue that cannot be read now (the page then takes
    typed ids, and the API's check of the ids still applies when the catalogue is back)."""
    found = []
    for load in (catalog.avatars, catalog.voices):
        try:
            found.append(list(load().items))
        except catalog.CatalogUnavailable:
            found.append(None)
        except Exception:  # a catalogue that is not configured must not take the page down with it
            logger.exception("webapp: the avatar/voice catalogue could not be read")
            found.append(None)
    return found[0], found[1]


def store_upload(user, upload) -> uploads.StoredImage:
    """Keep an uploaded image under the user's own prefix (uploads.ImageRefused, in words, when it is not one)."""
    return uploads.store_image(user.pk, upload, upload.size)
