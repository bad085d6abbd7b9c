"""The New video page (/videos/new/): the form, its scene builder, the live quote, the confirmation and the start.

One POST endpoint does everything a form without JavaScript needs: `action` says what (a scene builder button,
"review", "edit" or "start"). With htmx, the scene builder and the quote answer partials from their own endpoints,
computed by the same functions.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import AuthenticationFailed

from billing import services as billing
from video_generation import catalog, uploads
from video_generation.pipeline import IdempotencyKeyReused, JobRefused
from video_generation.presets import AVATAR_PRESETS
from video_generation.rate_limits import RateLimitExceeded
from video_generation.serializers import MAX_SCENES, MIN_SCENES
from video_generation.views import start_video
from video_saas.middleware import allows_body_bytes

from . import newvideo_services as services
from .forms import _wait_words
from .newvideo_forms import BLANK_SCENE, INITIAL, SCENES_PREFIX, NewVideoForm, SceneFormSet, scene_formset, scenes_in

logger = logging.getLogger(__name__)

TEMPLATE = "webapp/newvideo/new_video.html"
NOT_CARRIED = frozenset({"csrfmiddlewaretoken", "action", "idempotency_key", "image_file"})


def upload_body_limit() -> int:
    """A page with an upload may send the image and the rest of the form."""
    return settings.IMAGE_MAX_BYTES + settings.REQUEST_MAX_BODY_BYTES


# --- The page's parts ------------------------------------------------------------------------------------------

def scene_limit(user) -> int:
    return min(services.plan_of(user).max_scenes, MAX_SCENES)


def apply_scene_action(scenes: list[dict], action: str, limit: int) -> tuple[list[dict], str, int | None]:
    """(the scenes after a builder button, what to announce, the scene to focus). Out-of-range asks change nothing."""
    verb, _, number = action.partition("-")
    index = int(number) if number.isdigit() else -1
    scenes = list(scenes)
    if verb == "add":
        if len(scenes) >= limit:
            return scenes, f"Your plan allows at most {limit} scenes per video.", None
        scenes.append(dict(BLANK_SCENE))
        return scenes, f"Scene {len(scenes)} added.", len(scenes) - 1
    if not 0 <= index < len(scenes):
        return scenes, "", None
    if verb == "remove" and len(scenes) > MIN_SCENES:
        scenes.pop(index)
        return scenes, f"Scene {index + 1} removed.", min(index, len(scenes) - 1)
    if verb == "up" and index > 0:
        scenes[index - 1], scenes[index] = scenes[index], scenes[index - 1]
        return scenes, f"Scene {index + 1} moved up to {index}.", index - 1
    if verb == "down" and index < len(scenes) - 1:
        scenes[index + 1], scenes[index] = scenes[index], scenes[index + 1]
        return scenes, f"Scene {index + 1} moved down to {index + 2}.", index + 1
    return scenes, "", None


def is_scene_action(action: str) -> bool:
    return action.partition("-")[0] in {"add", "remove", "up", "down"}


def renumbered(data, scenes: list[dict]):
    """A copy of the posted data holding `scenes` (as typed), numbered from 0."""
    data = data.copy()
    for key in [key for key in data if key.startswith(f"{SCENES_PREFIX}-")]:
        del data[key]
    data[f"{SCENES_PREFIX}-TOTAL_FORMS"] = str(len(scenes))
    data[f"{SCENES_PREFIX}-INITIAL_FORMS"] = "0"
    for index, scene in enumerate(scenes):
        for name, value in scene.items():
            data[f"{SCENES_PREFIX}-{index}-{name}"] = value
    return data


def quote_context(data) -> dict:
    """The quote panel's and the script counter's context for posted form data (never an error: an incomplete form
    has no price yet)."""
    form = NewVideoForm(data)
    form.is_valid()
    cleaned = {name: form.cleaned_data.get(name, "") for name in form.fields}
    script = services.script_length(cleaned["avatar_script"] or "")
    return {"quote": services.quote(services.request_body(cleaned, scenes_in(data), with_image_url=bool(
        cleaned["image_url"]))), "script": script}


def focused(scenes, index: int | None):
    """The builder with the scene a button changed focused (autofocus: on page load, and by htmx after a swap)."""
    if index is not None and 0 <= index < len(scenes.forms):
        scenes.forms[index].fields["description"].widget.attrs["autofocus"] = True
    return scenes


def page_context(request, *, form, scenes, scene_errors=None, announce="", quote=None) -> dict:
    account = billing.summary(request.user)
    limit = min(account["plan"]["max_scenes"], MAX_SCENES)
    script = services.script_length(form["avatar_script"].value() or "")
    return {"form": form, "scenes": scenes, "scene_errors": scene_errors or [], "announce": announce,
            "quote": quote, "script": script, "account": account, "scene_limit": limit,
            "min_scenes": MIN_SCENES, "image_max_bytes": settings.IMAGE_MAX_BYTES,
            "presets_json": json.dumps(AVATAR_PRESETS),
            "upload": _carried_upload(request.user, form)}


def _carried_upload(user, form) -> uploads.StoredImage | None:
    name = form["image_upload"].value() if form.is_bound else ""
    return uploads.stored_image(user.pk, name) if name else None


def new_form(request, data=None, files=None) -> NewVideoForm:
    avatars, voices = services.catalogue()
    plan = services.plan_of(request.user)
    return NewVideoForm(data, files, initial=INITIAL, avatars=avatars, voices=voices,
                        qualities=plan.allowed_qualities or None)


# --- Checking a submitted form ------------------------------------------------------------------------------------

@dataclass
class Checked:
    form: NewVideoForm
    scenes: object  # the bound scene formset, with its errors
    scene_errors: list[str]
    data: dict | None  # the validated request (with the image), or None while anything is wrong
    upload: uploads.StoredImage | None


def check_submission(request, data) -> Checked:
    """The form's request checked by the API's serializer and the plan's rules; errors put next to their inputs.
    A new upload is checked and stored first, so the person never has to choose it again."""
    form = new_form(request, data, request.FILES)
    form.is_valid()
    upload, image_error = _image(request, form)
    if (upload.name if upload else "") != (data.get("image_upload") or ""):  # a new upload, or none any more
        data = data.copy()
        data["image_upload"] = upload.name if upload else ""
        form = new_form(request, data, request.FILES)
        form.is_valid()
    scenes = SceneFormSet(data, prefix=SCENES_PREFIX)
    scenes.is_valid()
    cleaned = {name: form.cleaned_data.get(name, "") for name in form.fields}
    body = services.request_body(cleaned, scenes_in(data), with_image_url=upload is None and bool(cleaned["image_url"]))
    serializer = services.checked(body)
    errors = services.person_errors(serializer.errors)
    if image_error:
        errors.add(*image_error)
    elif upload is None and not cleaned["image_url"] and "image_url" not in errors.fields:
        errors.add("image_url", "Upload the product image, or give its web address.")
    validated = None
    if not errors:
        validated = dict(serializer.validated_data)
        if upload is not None:
            validated["image_url"] = upload.uri
        errors = services.plan_errors(request.user, validated)
        if errors:
            validated = None
    scene_errors = attach(errors, form, scenes)
    return Checked(form, scenes, scene_errors, validated, upload)


def _image(request, form) -> tuple[uploads.StoredImage | None, tuple[str, str] | None]:
    """(the image to use if it is an upload, an error for an input)."""
    sent = request.FILES.get("image_file")
    typed_url = (form.cleaned_data.get("image_url") or "").strip()
    if sent is not None:
        if typed_url:
            return None, ("image_url", "Give either a file or a web address, not both: clear one of them.")
        try:
            return services.store_upload(request.user, sent), None
        except uploads.ImageRefused as refused:
            return None, ("image_file", refused.message)
    if typed_url:
        return None, None  # a typed address replaces an earlier upload
    name = form.cleaned_data.get("image_upload") or ""
    if name:
        earlier = uploads.stored_image(request.user.pk, name)
        if earlier is None:
            return None, ("image_file", "The image you uploaded earlier is no longer here: please upload it again.")
        return earlier, None
    return None, None


def attach(errors: services.PersonErrors, form, scenes) -> list[str]:
    """Put the errors on their inputs (Django then ties each to its input for screen readers); what belongs to no
    input is returned for the scene list, or shown at the form's top."""
    for name, messages in errors.fields.items():
        target = name if name in form.fields else None
        for message in messages:
            form.add_error(target, message)
    for message in errors.general:
        form.add_error(None, message)
    extra = []
    for index, fields in errors.scenes.items():
        if index >= len(scenes.forms):
            extra.extend(message for messages in fields.values() for message in messages)
            continue
        for name, messages in fields.items():
            for message in messages:
                scenes.forms[index].add_error(name, message)
    return [*errors.scene_list, *extra]


# --- The views -----------------------------------------------------------------------------------------------------

@allows_body_bytes(upload_body_limit)
@login_required
@require_http_methods(["GET", "POST"])
def new_video(request):
    if request.method == "GET":
        form = new_form(request)
        return render(request, TEMPLATE, page_context(
            request, form=form, scenes=scene_formset([dict(BLANK_SCENE) for _ in range(MIN_SCENES)]),
            quote=None))
    action = request.POST.get("action", "review")
    if is_scene_action(action) or action == "edit":
        return _edit(request, action)
    checked = check_submission(request, request.POST)
    if checked.data is None:
        return _editing_page(request, checked, status=400)
    if action == "start":
        return _start(request, checked)
    return _review_page(request, checked)


def _edit(request, action: str):
    """A builder button, or "change something" on the confirmation: the form again, as it was (an upload kept)."""
    form = new_form(request, request.POST, request.FILES)
    form.is_valid()
    data = request.POST
    upload, image_error = _image(request, form) if "image_file" in request.FILES else (None, None)
    scenes = scenes_in(data)
    announce, focus = "", None
    if is_scene_action(action):
        scenes, announce, focus = apply_scene_action(scenes, action, scene_limit(request.user))
    data = renumbered(data, scenes)
    if upload is not None:
        data["image_upload"] = upload.name
    form = new_form(request, data)
    form.is_valid()
    if image_error:
        form.add_error(*image_error)
    context = page_context(request, form=form, scenes=focused(scene_formset(scenes), focus), announce=announce,
                           quote=quote_context(data)["quote"])
    return render(request, TEMPLATE, context, status=400 if image_error else 200)


def _editing_page(request, checked: Checked, *, status: int, message: str = ""):
    if message:
        checked.form.add_error(None, message)
    quote = quote_context(checked.form.data)["quote"]
    return render(request, TEMPLATE, page_context(request, form=checked.form, scenes=checked.scenes,
                                                  scene_errors=checked.scene_errors, quote=quote), status=status)


def _review_page(request, checked: Checked, *, status: int = 200, message: str = ""):
    data = checked.form.data
    carried = [(key, value) for key, values in data.lists() if key not in NOT_CARRIED for value in values]
    quote = services.pricing.quote(checked.data)
    return render(request, TEMPLATE, {
        "presenter": chosen_label(checked.form, "avatar_id"), "voice": chosen_label(checked.form, "voice_id"),
        "review": True, "carried": carried, "quote": quote, "brief": checked.data, "upload": checked.upload,
        "account": billing.summary(request.user), "idempotency_key": services.new_idempotency_key(),
        "message": message,
    }, status=status)


def chosen_label(form, name: str) -> str:
    """What the picker showed for the chosen catalogue id (the id itself when the page took a typed one)."""
    value = form.cleaned_data.get(name, "")
    return dict(getattr(form.fields[name].widget, "choices", None) or []).get(value, value)


def _start(request, checked: Checked):
    key = request.POST.get("idempotency_key", "")
    if not services.IDEMPOTENCY_KEY.fullmatch(key):
        return _review_page(request, checked, status=400, message="Please confirm once more to start the video.")
    try:
        job, _created = start_video(user=request.user, data=checked.data, key=key)
    except IdempotencyKeyReused:
        return _review_page(request, checked, status=400,
                            message="This confirmation was already used for a different video. Check the details "
                                    "and confirm again.")
    except JobRefused as refused:
        return _refused(request, checked, refused)
    except RateLimitExceeded as limited:
        rate = f" ({limited.rate_limit})" if limited.rate_limit else ""
        return _editing_page(request, checked, status=429, message=(
            f"You have started as many videos as your plan allows for now{rate}. Try again in "
            f"{_wait_words(int(limited.wait or 60))}."))
    except AuthenticationFailed:  # the account was erased while this request was on its way
        return redirect("webapp:login")
    return redirect(services.job_path(job.id))


def _refused(request, checked: Checked, refused: JobRefused):
    body = refused.body
    if refused.status_code == 402:
        message = (f"This video needs {body.get('required')} credits and you have {body.get('available')} "
                   "available. Buy credits, or make the video shorter. Nothing was held.")
    elif refused.status_code == 429:
        message = (f"You already have {body.get('limit')} videos in progress, the most your plan allows at once. "
                   "Start this one when one of them has finished.")
    else:
        errors = services.person_errors(body.get("details") or {})
        checked.scene_errors = [*checked.scene_errors, *attach(errors, checked.form, checked.scenes)]
        message = "" if errors else str(body.get("error", "This video cannot be started."))
    return _editing_page(request, checked, status=refused.status_code, message=message)


@login_required
@require_POST
def new_video_quote(request):
    """The quote panel for the form as it is now (htmx posts the form on every change), with the script's count."""
    return render(request, "webapp/newvideo/_quote_update.html", quote_context(request.POST))


@login_required
@require_POST
def new_video_scenes(request):
    """The scene builder after one of its buttons (htmx), with the quote for the new scenes."""
    action = request.POST.get("action", "")
    scenes, announce, focus = apply_scene_action(scenes_in(request.POST), action, scene_limit(request.user))
    data = renumbered(request.POST, scenes)
    return render(request, "webapp/newvideo/_scenes_update.html", {
        "scenes": focused(scene_formset(scenes), focus), "announce": announce, "min_scenes": MIN_SCENES,
        "scene_limit": scene_limit(request.user), "scene_errors": [], **quote_context(data)})


PREVIEW_PARAMETERS = {"avatar": catalog.AVATARS, "voice": catalog.VOICES}


@login_required
@require_GET
def catalogue_preview(request):
    """?avatar=<id> or ?voice=<id>: the presenter's picture or the voice's sample from the catalogue, through our
    own origin (catalog.preview); the 404 page when it has none."""
    asked = [(PREVIEW_PARAMETERS[name], value) for name, value in request.GET.items() if name in PREVIEW_PARAMETERS]
    if len(asked) != 1 or not 0 < len(asked[0][1]) <= 255:
        raise Http404("No such preview")
    found = catalog.preview(*asked[0])
    if found is None:
        raise Http404("No such preview")
    response = HttpResponse(found.body, content_type=found.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
