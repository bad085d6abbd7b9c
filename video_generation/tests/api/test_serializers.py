"""VideoGenerationRequestSerializer and VideoJobSerializer on their own."""

import pytest

from video_generation.models import VideoJob
from video_generation.presets import AVATAR_PRESETS
from video_generation.serializers import (
    AvatarPositionSerializer,
    SceneSerializer,
    VideoGenerationRequestSerializer,
    VideoJobSerializer,
)

SCENE = {"visual_description": "desk", "camera_movement": "pan", "mood": "calm"}


def request_data(**overrides):
    data = {
        "product_title": "Headphones", "scenes": [SCENE], "image_url": "https://cdn.example.com/p.jpg",
        "avatar_id": "a1", "voice_id": "v1", "avatar_script": "Hello there.",
    }
    data.update(overrides)
    return data


def validate(**overrides):
    serializer = VideoGenerationRequestSerializer(data=request_data(**overrides))
    return serializer.is_valid(), serializer


def test_it_keeps_the_briefs_presets():
    assert AVATAR_PRESETS == {
        "bottom_right": {"scale": 0.8, "x": 0.7, "y": 0.8},
        "bottom_left": {"scale": 0.8, "x": -0.7, "y": 0.8},
        "top_right": {"scale": 0.8, "x": 0.7, "y": -0.8},
        "top_left": {"scale": 0.8, "x": -0.7, "y": -0.8},
        "center": {"scale": 1.0, "x": 0.0, "y": 0.0},
    }


@pytest.mark.parametrize("name", sorted(AVATAR_PRESETS))
def test_it_resolves_every_preset(name):
    ok, serializer = validate(avatar_position=name)
    assert ok
    assert serializer.validated_data["avatar_position"] == AVATAR_PRESETS[name]


def test_a_preset_is_a_copy():
    ok, serializer = validate(avatar_position="center")
    serializer.validated_data["avatar_position"]["x"] = 0.5
    assert AVATAR_PRESETS["center"]["x"] == 0.0


def test_it_applies_request_defaults():
    ok, serializer = validate()
    assert ok
    data = serializer.validated_data
    assert data["avatar_position"] == {"scale": 0.8, "x": 0.7, "y": 0.8}
    assert data["aspect_ratio"] == "9:16"
    assert data["scenes"][0]["duration"] == 8


def test_it_reads_the_script_limit_from_settings(settings):
    settings.HEYGEN_MAX_SCRIPT_CHARS = 10
    assert validate(avatar_script="x" * 10)[0]
    ok, serializer = validate(avatar_script="x" * 11)
    assert not ok
    assert "no more than 10" in str(serializer.errors["avatar_script"][0])


def test_it_rejects_a_position_that_is_neither_name_nor_object():
    ok, serializer = validate(avatar_position=3)
    assert not ok
    assert "preset name or an object" in str(serializer.errors["avatar_position"][0])


def test_it_rejects_unknown_fields_in_nested_objects():
    ok, serializer = validate(avatar_position={"scal": 0.5}, scenes=[{**SCENE, "durration": 4}])
    assert not ok
    assert "scal" in serializer.errors["avatar_position"]
    assert "durration" in serializer.errors["scenes"][0]


@pytest.mark.parametrize("url", ["ftp://x.example.com/a.jpg", "file:///etc/passwd", "javascript:alert(1)"])
def test_it_accepts_only_http_urls(url):
    ok, serializer = validate(image_url=url, webhook_url=url)
    assert not ok
    assert {"image_url", "webhook_url"} <= set(serializer.errors)


@pytest.mark.parametrize("duration", [4, 6, 8, 6.0])
def test_it_accepts_veo_durations(duration):
    serializer = SceneSerializer(data={**SCENE, "duration": duration})
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["duration"] == int(duration)


@pytest.mark.parametrize("duration", [3, 5, 7, 9, 8.5, "eight", "6", True, None])
def test_it_rejects_other_durations(duration):
    serializer = SceneSerializer(data={**SCENE, "duration": duration})
    assert not serializer.is_valid()
    assert "duration" in serializer.errors


def test_position_serializer_keeps_the_briefs_defaults():
    serializer = AvatarPositionSerializer(data={})
    assert serializer.is_valid()
    assert dict(serializer.validated_data) == {"scale": 0.8, "x": 0.7, "y": 0.8}


@pytest.mark.django_db
def test_job_serializer_has_the_briefs_fields_plus_aspect_ratio_steps_and_the_price(user):
    job = VideoJob.objects.create(user=user, product_title="t", scenes_data=[], avatar_script="s",
                                  avatar_id="a", voice_id="v", image_url="https://cdn.example.com/p.jpg")
    assert list(VideoJobSerializer(job).data) == [
        "id", "status", "progress", "product_title", "created_at", "updated_at", "completed_at",
        "processing_time_seconds", "veo_video_url", "final_video_url", "poster_url", "preview_url", "error_message",
        "credits_used", "aspect_ratio", "steps", "quality", "broll_audio", "scene_transitions", "broll_fit",
        "duration_seconds", "credits_quoted", "cost_usd", "expired", "video_expires_at", "video_expired_at",
    ]


def test_it_accepts_on_screen_text_the_font_can_draw():
    ok, serializer = validate(scenes=[{**SCENE, "text_overlay": "Ünïcode ✓ 40 h — €99 …"}])
    assert ok, serializer.errors
    assert serializer.validated_data["scenes"][0]["overlay_in_prompt"] is False


@pytest.mark.parametrize(("text", "named"), [("Hello 中文", "中 (U+4E2D"), ("Great 😀", "😀 (U+1F600"),
                                             ("Love ❤️", "U+FE0F")])
def test_it_refuses_on_screen_text_with_characters_the_font_cannot_draw_or_emoji(text, named):
    ok, serializer = validate(scenes=[SCENE, {**SCENE, "text_overlay": text}])
    assert not ok
    (message,) = serializer.errors["scenes"][1]["text_overlay"]
    assert named in message


def test_overlay_in_prompt_is_a_strict_boolean():
    assert validate(scenes=[{**SCENE, "overlay_in_prompt": True}])[0]
    assert not validate(scenes=[{**SCENE, "overlay_in_prompt": "yes"}])[0]
