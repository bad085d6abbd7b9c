"""The New video form: its inputs, and the generate request body they make.

The form checks nothing itself but the uploaded file (the web app's own input): every rule of the brief is the
API's, applied by VideoGenerationRequestSerializer on the body `request_body` builds (newvideo_services.py), and its
errors are put back next to the inputs here (`attach_errors`).
"""

from __future__ import annotations

from django import forms
from django.forms import formset_factory

from video_generation.models import AspectRatio, BrollFit, CaptionPosition, CaptionStyle, Quality, SceneTransitions
from video_generation.presets import (
    AVATAR_PRESETS,
    DEFAULT_AVATAR_POSITION,
    POSITION_MAX,
    POSITION_MIN,
    SCALE_MAX,
    SCALE_MIN,
)
from video_generation.serializers import MAX_SCENES, SCENE_DURATIONS

CUSTOM_POSITION = "custom"
PRESET_LABELS = {"bottom_right": "Bottom right", "bottom_left": "Bottom left", "top_right": "Top right",
                 "top_left": "Top left", "center": "Centre, full height"}
IMAGE_ACCEPT = "image/png,image/jpeg,image/webp"


def _text(label: str, *, help_text: str = "", textarea: bool = False, rows: int = 3, **attrs) -> forms.CharField:
    widget = forms.Textarea(attrs={"rows": rows, **attrs}) if textarea else forms.TextInput(attrs=attrs)
    return forms.CharField(label=label, required=False, help_text=help_text, widget=widget)


def _choice(label: str, choices, *, help_text: str = "", radio: bool = False) -> forms.CharField:
    """A choice whose value the serializer checks (a CharField: an unknown value is the API's error to word)."""
    widget = forms.RadioSelect(choices=choices) if radio else forms.Select(choices=choices)
    return forms.CharField(label=label, required=False, help_text=help_text, widget=widget)


def _number(label: str, *, low: float, high: float, **attrs) -> forms.CharField:
    return forms.CharField(label=label, required=False, widget=forms.NumberInput(
        attrs={"min": low, "max": high, "step": "0.05", "inputmode": "decimal", **attrs}))


def catalogue_choices(items: list[dict] | None, id_field: str, describe) -> list[tuple[str, str]] | None:
    if items is None:
        return None
    return [("", "Choose…"), *((item[id_field], describe(item)) for item in items)]


def describe_avatar(item: dict) -> str:
    kind = (item.get("avatar_type") or "").replace("_", " ")
    details = ", ".join(part for part in (item.get("gender"), kind) if part)
    return f"{item['name']} ({details})" if details else item["name"]


def describe_voice(item: dict) -> str:
    details = ", ".join(part for part in (item.get("language"), item.get("gender")) if part)
    return f"{item['name']} ({details})" if details else item["name"]


class NewVideoForm(forms.Form):
    product_title = _text("Product title", maxlength=500, autocomplete="off")
    product_id = _text("Product id (optional)", help_text="Your own reference, e.g. a SKU.", maxlength=255,
                       autocomplete="off")
    image_file = forms.FileField(
        label="Upload the product image", required=False,
        help_text="PNG, JPEG or WebP.", widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}))
    image_url = forms.CharField(label="…or give its web address", required=False,
                                help_text="An http or https link to a PNG, JPEG or WebP image.",
                                widget=forms.URLInput(attrs={"inputmode": "url", "autocomplete": "url"}))
    image_upload = forms.CharField(required=False, widget=forms.HiddenInput)  # an earlier upload's name
    avatar_id = _text("Presenter (avatar)")
    voice_id = _text("Voice")
    avatar_script = _text("Script", textarea=True, rows=6,
                          help_text="What the presenter says. Its length sets the video's length when it is longer "
                                    "than the scenes.")
    avatar_position = _choice("Presenter position",
                              [*((name, PRESET_LABELS.get(name, name)) for name in AVATAR_PRESETS),
                               (CUSTOM_POSITION, "Custom (the numbers below, or drag the box)")])
    position_scale = _number("Height (fraction of the frame, 0.1 to 1)", low=SCALE_MIN, high=SCALE_MAX)
    position_x = _number("Across (-1 left edge, 0 centre, 1 right edge)", low=POSITION_MIN, high=POSITION_MAX)
    position_y = _number("Down (-1 top edge, 0 centre, 1 bottom edge)", low=POSITION_MIN, high=POSITION_MAX)
    aspect_ratio = _choice("Aspect ratio", AspectRatio.choices, radio=True)
    captions_enabled = forms.BooleanField(label="Captions", required=False,
                                          help_text="Burn the narration's words into the video.")
    captions_style = _choice("Caption style", CaptionStyle.choices,
                             help_text="Bold: large white text with a dark outline. Clean: plain text on a soft "
                                       "band. Karaoke: each word lights up as it is spoken.")
    captions_position = _choice("Caption position", CaptionPosition.choices)
    quality = _choice("Quality", Quality.choices)
    broll_audio = forms.BooleanField(label="B-roll sound", required=False,
                                     help_text="Let Veo render sound with the B-roll, mixed under the voice.")
    broll_fit = _choice("When the narration is longer than the scenes", BrollFit.choices)
    scene_transitions = _choice("Scene transitions", SceneTransitions.choices)

    def __init__(self, *args, avatars: list[dict] | None = None, voices: list[dict] | None = None,
                 qualities: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.catalogue_missing = avatars is None or voices is None
        for name, items, id_field, describe in (("avatar_id", avatars, "avatar_id", describe_avatar),
                                                ("voice_id", voices, "voice_id", describe_voice)):
            choices = catalogue_choices(items, id_field, describe)
            if choices is not None:
                self.fields[name].widget = forms.Select(choices=choices)
            else:
                self.fields[name].help_text = "The catalogue cannot be read just now: type the id."
        if qualities:
            self.fields["quality"].widget.choices = [(value, label) for value, label in Quality.choices
                                                     if value in qualities]
        for name in ("product_title", "avatar_id", "voice_id", "avatar_script"):
            self.fields[name].widget.attrs["required"] = True  # announced as required; the server decides


INITIAL = {
    "avatar_position": "bottom_right", "position_scale": DEFAULT_AVATAR_POSITION["scale"],
    "position_x": DEFAULT_AVATAR_POSITION["x"], "position_y": DEFAULT_AVATAR_POSITION["y"],
    "aspect_ratio": AspectRatio.PORTRAIT, "captions_enabled": True, "captions_style": CaptionStyle.BOLD,
    "captions_position": CaptionPosition.AUTO, "quality": Quality.STANDARD, "broll_fit": BrollFit.EXTEND,
    "scene_transitions": SceneTransitions.CONTINUOUS,
}


class SceneForm(forms.Form):
    description = _text("What the scene shows", textarea=True, rows=2, maxlength=1000)
    camera_movement = _text("Camera movement", maxlength=500, placeholder="e.g. slow 360 rotation")
    mood = _text("Mood", maxlength=500, placeholder="e.g. professional and premium")
    duration = _choice("Length", [(str(seconds), f"{seconds} seconds") for seconds in SCENE_DURATIONS])
    text_overlay = _text("On-screen text (optional)", maxlength=500)


# At most MAX_SCENES forms are ever read, however many a request claims (the plan's own limit is checked later).
SceneFormSet = formset_factory(SceneForm, extra=0, max_num=MAX_SCENES, absolute_max=MAX_SCENES)
SCENES_PREFIX = "scenes"
BLANK_SCENE = {"description": "", "camera_movement": "", "mood": "", "duration": "8", "text_overlay": ""}
SCENE_FIELDS = {"visual_description": "description", "camera_movement": "camera_movement", "mood": "mood",
                "duration": "duration", "text_overlay": "text_overlay"}
POSITION_FIELDS = {"scale": "position_scale", "x": "position_x", "y": "position_y"}
CAPTION_FIELDS = {"enabled": "captions_enabled", "style": "captions_style", "position": "captions_position"}


def scene_formset(scenes: list[dict]) -> forms.BaseFormSet:
    """An unbound scene builder showing `scenes` (the values as typed)."""
    return SceneFormSet(prefix=SCENES_PREFIX, initial=scenes)


def scenes_in(data) -> list[dict]:
    """The scenes a posted form holds, as typed, in order (at most MAX_SCENES; a broken count reads none)."""
    formset = SceneFormSet(data, prefix=SCENES_PREFIX)
    if not formset.management_form.is_valid():
        return []
    return [{name: (form.data.get(form.add_prefix(name)) or "").strip() for name in BLANK_SCENE}
            for form in formset.forms]


def form_data(brief: dict) -> dict[str, str]:
    """The form's POST data for an API brief (devstack/briefs.py): what a person fills in to make the same video."""
    position = brief.get("avatar_position") or "bottom_right"
    numbers = AVATAR_PRESETS[position] if isinstance(position, str) else position
    captions = brief.get("captions") or {}
    data = {
        "product_title": brief["product_title"], "product_id": brief.get("product_id") or "",
        "image_url": brief.get("image_url", ""), "avatar_id": brief["avatar_id"], "voice_id": brief["voice_id"],
        "avatar_script": brief["avatar_script"],
        "avatar_position": position if isinstance(position, str) else CUSTOM_POSITION,
        "position_scale": str(numbers["scale"]), "position_x": str(numbers["x"]), "position_y": str(numbers["y"]),
        "aspect_ratio": brief.get("aspect_ratio", AspectRatio.PORTRAIT),
        "captions_style": captions.get("style", CaptionStyle.BOLD),
        "captions_position": captions.get("position", CaptionPosition.AUTO),
        "quality": brief.get("quality", Quality.STANDARD), "broll_fit": brief.get("broll_fit", BrollFit.EXTEND),
        "scene_transitions": brief.get("scene_transitions", SceneTransitions.CONTINUOUS),
        f"{SCENES_PREFIX}-TOTAL_FORMS": str(len(brief["scenes"])), f"{SCENES_PREFIX}-INITIAL_FORMS": "0",
    }
    if captions.get("enabled", True):
        data["captions_enabled"] = "on"
    if brief.get("broll_audio"):
        data["broll_audio"] = "on"
    for index, scene in enumerate(brief["scenes"]):
        for api_name, name in SCENE_FIELDS.items():
            data[f"{SCENES_PREFIX}-{index}-{name}"] = str(scene.get(api_name, "8" if name == "duration" else ""))
    return data
