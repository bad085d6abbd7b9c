"""The Developers pages (/developers/...): API keys, webhook endpoints and their delivery log.

Every rule is the key store's (api_keys.services) or the webhooks app's (webhooks.services), with the API's own
serializers validating what the forms send; these views turn forms into those calls and their answers into pages.
A secret (a new key, an endpoint's signing secret) is shown on the page the form redirects to, once
(developers_services.secret_keep/secret_take); every form takes effect once however often it is sent (`once_only`).
"""

from __future__ import annotations

import functools
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Subquery
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from api_keys import services as key_store
from api_keys.models import ApiKey
from api_keys.serializers import KeyCreateSerializer
from webhooks import services as webhooks
from webhooks.models import Attempt, Endpoint
from webhooks.serializers import EndpointCreateSerializer, EndpointUpdateSerializer

from . import developers_services as secrets_once
from . import once
from .developers_forms import EndpointEditForm, EndpointForm, KeyCreateForm, add_api_errors

# A form whose action names a fragment (so a refusal scrolls to the form) would pass it on to the page it redirects
# to: a redirect after success names the top of the page instead, where its message and any secret are.
TOP = "#main"
DELIVERIES_PER_PAGE = 20
RECENT_DELIVERIES = 5
KEY, WEBHOOK = "key", "webhook"


def developer_view(view):
    """Signed in (else the sign-in page), and never kept by a cache: these pages can carry a secret."""
    return login_required(never_cache(view))


REPEAT_WAITS_SECONDS = 3.0  # a repeat waits for the first request, so the page it leads to shows the result


def local_path(location) -> str | None:
    """Where a repeat may be sent: a path on this site (what the first request was redirected to), nothing else."""
    return location if isinstance(location, str) and location.startswith("/") and not location.startswith("//") \
        else None


def once_only(view):
    """A POST action that takes effect once per form: the form's `once` token is claimed before the action runs; a
    request repeating a token does nothing and is sent where the first one was (after waiting for it to finish)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        token = request.POST.get(once.FIELD)
        if not once.well_formed(token):
            return render(request, "webapp/developers/stale_form.html", status=400)
        if not once.claim(request.user, token):
            return redirect(local_path(once.outcome(request.user, token, seconds=REPEAT_WAITS_SECONDS))
                            or reverse("webapp:developers"))
        response = None
        try:
            response = view(request, *args, **kwargs)
        finally:
            once.done(request.user, token, response.get("Location") if response is not None else None)
        return response

    return wrapper


def owned(found):
    """The object a lookup found for the signed-in user, or the 404 page (another user's, missing or malformed)."""
    if found is None:
        raise Http404("No such object of yours.")
    return found


def shown_secret(request, kind: str, object_id=None) -> secrets_once.OneTimeSecret | None:
    """The secret kept for this page, if it is the one kept (taken from the session either way: shown at most once)."""
    kept = secrets_once.secret_take(request)
    if kept is None or kept.kind != kind or (object_id is not None and kept.object_id != str(object_id)):
        return None
    return kept


# --- The overview: keys and endpoints ----------------------------------------------------------------------------

@developer_view
@require_GET
def developers(request):
    return overview(request, new_secret=shown_secret(request, KEY))


def overview(request, *, key_form=None, endpoint_form=None, new_secret=None, status=200):
    now = timezone.now()
    keys = list(key_store.listed_keys(request.user))
    for key in keys:
        key.expired = key.expires_at is not None and key.expires_at <= now
    return render(request, "webapp/developers/index.html", {
        "keys": keys, "live_keys": key_store.live_keys(request.user).count(),
        "key_limit": settings.API_KEYS_MAX_PER_USER, "key_form": key_form or KeyCreateForm(),
        "endpoints": Endpoint.objects.filter(user=request.user),
        "endpoint_limit": settings.WEBHOOK_MAX_ENDPOINTS_PER_USER,
        "endpoint_form": endpoint_form or EndpointForm(), "new_secret": new_secret,
    }, status=status)


# --- API keys ----------------------------------------------------------------------------------------------------

@developer_view
@require_POST
@once_only
def key_create(request):
    form = KeyCreateForm(request.POST)
    if form.is_valid():
        body = KeyCreateSerializer(data=form.api_data(timezone.now()))
        if body.is_valid():
            try:
                issued = key_store.issue_key(user=request.user, **body.validated_data)
            except ApiValidationError as refused:
                add_api_errors(form, refused.detail)
            else:
                secrets_once.secret_keep(request, kind=KEY, object_id=issued.api_key.id, label=issued.api_key.name,
                                 secret=issued.secret)
                messages.success(request, f"Key “{issued.api_key.name}” created.")
                return redirect(reverse("webapp:developers") + TOP)
        else:
            add_api_errors(form, body.errors)
    return overview(request, key_form=form, status=400)


@developer_view
@require_POST
@once_only
def key_revoke(request, key_id: str):
    parsed = key_store.parse_key_id(key_id)
    if parsed is None or not key_store.revoke_key(user=request.user, key_id=parsed):
        raise Http404("No such key of yours.")
    name = ApiKey.objects.values_list("name", flat=True).get(pk=parsed)
    messages.success(request, f"Key “{name}” revoked: requests made with it are refused from now on.")
    return redirect("webapp:developers")


# --- Webhook endpoints -------------------------------------------------------------------------------------------

@developer_view
@require_POST
@once_only
def endpoint_create(request):
    form = EndpointForm(request.POST)
    if form.is_valid():
        body = EndpointCreateSerializer(data=form.api_data())
        if body.is_valid():
            try:
                endpoint = webhooks.endpoint_create(user=request.user, **body.validated_data)
            except webhooks.EndpointLimitReached as refused:
                form.add_error(None, str(refused))
            else:
                keep_signing_secret(request, endpoint)
                messages.success(request, "Endpoint added.")
                return redirect(reverse("webapp:developers_endpoint", args=[endpoint.id]) + TOP)
        else:
            add_api_errors(form, body.errors)
    return overview(request, endpoint_form=form, status=400)


def keep_signing_secret(request, endpoint: Endpoint) -> None:
    secrets_once.secret_keep(request, kind=WEBHOOK, object_id=endpoint.id, label=endpoint.url, secret=endpoint.secret)


@developer_view
@require_GET
def endpoint(request, endpoint_id: str):
    found = owned(webhooks.endpoint_of(request.user, endpoint_id))
    return endpoint_page(request, found, new_secret=shown_secret(request, WEBHOOK, found.id))


def endpoint_page(request, found: Endpoint, *, form=None, new_secret=None, status=200):
    initial = {"url": found.url, "events": found.events, "description": found.description, "enabled": found.enabled}
    recent = with_last_attempt(webhooks.deliveries_of(request.user, endpoint=found.id))[:RECENT_DELIVERIES]
    return render(request, "webapp/developers/endpoint.html", {
        "endpoint": found, "form": form or EndpointEditForm(initial=initial), "new_secret": new_secret,
        "deliveries": recent,
    }, status=status)


@developer_view
@require_POST
@once_only
def endpoint_edit(request, endpoint_id: str):
    found = owned(webhooks.endpoint_of(request.user, endpoint_id))
    form = EndpointEditForm(request.POST)
    if form.is_valid():
        body = EndpointUpdateSerializer(data=form.api_data())
        if body.is_valid():
            webhooks.endpoint_update(found, **body.validated_data)
            messages.success(request, "Endpoint saved.")
            return redirect(reverse("webapp:developers_endpoint", args=[found.id]) + TOP)
        add_api_errors(form, body.errors)
    return endpoint_page(request, found, form=form, status=400)


@developer_view
@require_POST
@once_only
def endpoint_rotate_secret(request, endpoint_id: str):
    rotated = webhooks.endpoint_rotate_secret(owned(webhooks.endpoint_of(request.user, endpoint_id)))
    keep_signing_secret(request, rotated)
    until = timezone.localtime(rotated.previous_secret_expires_at).strftime("%-d %B %Y, %H:%M %Z")
    messages.success(request, f"New signing secret made. The old one keeps signing beside it until {until}.")
    return redirect("webapp:developers_endpoint", rotated.id)


@developer_view
@require_POST
@once_only
def endpoint_test(request, endpoint_id: str):
    found = owned(webhooks.endpoint_of(request.user, endpoint_id))
    try:
        sent = webhooks.send_test(found)
    except webhooks.EndpointDisabled as refused:
        messages.error(request, str(refused))
        return redirect("webapp:developers_endpoint", found.id)
    messages.success(request, "A test event is on its way.")
    return redirect("webapp:developers_delivery", sent.id)


@developer_view
@require_POST
@once_only
def endpoint_delete(request, endpoint_id: str):
    found = owned(webhooks.endpoint_of(request.user, endpoint_id))
    url = found.url
    found.delete()
    messages.success(request, f"Endpoint {url} deleted, with its delivery log.")
    return redirect("webapp:developers")


# --- Deliveries --------------------------------------------------------------------------------------------------

def with_last_attempt(deliveries):
    """Each delivery with its latest attempt's response code (None before its first answer)."""
    latest = Attempt.objects.filter(delivery=OuterRef("pk")).order_by("-number")
    return deliveries.annotate(last_status_code=Subquery(latest.values("status_code")[:1]))


@developer_view
@require_GET
def deliveries(request):
    only = None
    if request.GET.get("endpoint"):
        only = owned(webhooks.endpoint_of(request.user, request.GET["endpoint"]))
    rows = with_last_attempt(webhooks.deliveries_of(request.user, endpoint=only.id if only else None))
    page = Paginator(rows, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "webapp/developers/deliveries.html", {
        "page": page, "only": only, "endpoints": Endpoint.objects.filter(user=request.user).only("id", "url"),
    })


@developer_view
@require_GET
def delivery(request, delivery_id: str):
    found = owned(webhooks.delivery_of(request.user, delivery_id))
    return render(request, "webapp/developers/delivery.html", {
        "delivery": found, "attempts": found.attempts.all(),
        "payload": json.dumps(found.event.payload, indent=2, ensure_ascii=False),
    })


@developer_view
@require_POST
@once_only
def delivery_replay(request, delivery_id: str):
    original = owned(webhooks.delivery_of(request.user, delivery_id))
    try:
        copy = webhooks.replay(original)
    except webhooks.EndpointDisabled as refused:
        messages.error(request, str(refused))
        return redirect("webapp:developers_delivery", original.id)
    messages.success(request, "Sent again: this is the new delivery.")
    return redirect("webapp:developers_delivery", copy.id)
