"""The Account pages: plan and balances, buying credits or a plan (Stripe Checkout), the ledger, usage per day,
the data export and the account's deletion. Every rule is the API's: billing.services, billing.stripe_service,
accounts.services."""

from __future__ import annotations

import time
from functools import partial

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import services as accounts
from billing import services as billing
from billing import stripe_service
from billing.models import CreditPack, EntryKind, Plan

from . import account_services as services
from .account_forms import DeleteAccountForm, UsageRangeForm, purchase_choice, purchase_errors

CHECKOUTS_SESSION_KEY = "webapp_checkouts"  # Checkout Sessions this browser opened: {session id: what, when}
CHECKOUTS_REMEMBERED = 10
WATCH_PAYMENT_SECONDS = 15 * 60  # the return page looks for the webhook's credits this long after the checkout
HTMX_STOP_POLLING = 286  # htmx stops an `every` trigger on this status

PAYMENTS_OFF = "Payments are not available right now. Please try again later."
PROVIDER_FAILED = "We could not reach our payment provider. Nothing was charged; please try again in a moment."


# --- Overview: plan, balances, plans and packs on offer ---------------------------------------------------------

@login_required
@require_safe
@never_cache  # a page come back to (the back button) is fetched again: its purchase forms get a fresh token
def overview(request):
    return _overview(request)


def _overview(request, *, buy_errors: list[str] | None = None, portal_error: str | None = None, status=200):
    profile = billing.account(request.user)
    on_sale = stripe_service.configured()
    plans = [{"plan": plan, "current": plan.id == profile.plan_id,
              "on_sale": on_sale and bool(stripe_service.price_id(plan))} for plan in Plan.objects.all()]
    context = {"account": billing.summary(request.user), "plans": plans,
               "packs": stripe_service.purchasable_packs() if on_sale else [],
               "payments_on": on_sale, "subscribed": bool(profile.stripe_subscription_id),
               "has_customer": bool(profile.stripe_customer_id), "attempt": services.checkout_attempt(),
               "purchase_errors": buy_errors or [], "portal_error": portal_error}
    return render(request, "webapp/account/overview.html", context, status=status)


# --- Checkout and its return pages ------------------------------------------------------------------------------

@login_required
@require_POST
def checkout(request):
    if not stripe_service.configured():
        return _overview(request, buy_errors=[PAYMENTS_OFF], status=503)
    if not services.valid_attempt(request.POST.get("attempt", "")):
        return _overview(request, buy_errors=["This form has expired. Please choose again."], status=400)
    choice = purchase_choice(request.POST)
    if not choice.is_valid():
        return _overview(request, buy_errors=purchase_errors(choice), status=400)
    try:
        opened, item = _open_checkout(request, choice.validated_data)
    except stripe_service.AlreadyOnPlan as already:
        return _overview(request, buy_errors=[f"You are on the {already} plan already."], status=400)
    except stripe_service.AlreadySubscribed:
        return _overview(request, buy_errors=["You already pay for a plan: change or cancel it in the billing "
                                              "portal."], status=409)
    except services.CheckoutInProgress:
        return _overview(request, buy_errors=["Your checkout is still being prepared. Please wait a moment "
                                              "and try again."], status=409)
    except stripe_service.PaymentProviderError:
        return _overview(request, buy_errors=[PROVIDER_FAILED], status=502)
    _remember_checkout(request, opened.session_id, item)
    return HttpResponseRedirect(opened.url, status=303)


def _open_checkout(request, choice: dict) -> tuple[stripe_service.Checkout, str]:
    """The Checkout for the plan or pack chosen, once per form (account_services.checkout_once), and what it sells."""
    account, return_to = billing.account(request.user), _return_urls(request)
    if plan_code := choice.get("plan"):
        item = f"plan:{plan_code}"
        start = partial(stripe_service.subscribe, account, Plan.objects.get(code=plan_code), return_to=return_to)
    else:
        item = f"pack:{choice['pack']}"
        start = partial(stripe_service.checkout_pack, account, CreditPack.objects.get(code=choice["pack"]),
                        return_to=return_to)
    return services.checkout_once(request.user, attempt=request.POST["attempt"], item=item, start=start), item


def _return_urls(request) -> stripe_service.ReturnUrls:
    # Back to the host the browser used, so its session cookie comes along ({CHECKOUT_SESSION_ID} is Stripe's).
    done = request.build_absolute_uri(reverse("webapp:account_payment_done"))
    return stripe_service.ReturnUrls(success=f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
                                     cancel=request.build_absolute_uri(reverse("webapp:account_payment_cancelled")))


def _remember_checkout(request, session_id: str, item: str) -> None:
    opened = dict(request.session.get(CHECKOUTS_SESSION_KEY, {}))
    opened[session_id] = {"item": item, "at": time.time()}
    request.session[CHECKOUTS_SESSION_KEY] = dict(sorted(opened.items(), key=lambda each: each[1]["at"])
                                                  [-CHECKOUTS_REMEMBERED:])


@login_required
@require_safe
def payment_done(request):
    """Stripe's success page sends the user here. The balance is the ledger's: it rises once the webhook is
    processed, which this page watches for (htmx polling) while the checkout is recent."""
    session_id = request.GET.get("session_id", "")
    opened = (request.session.get(CHECKOUTS_SESSION_KEY, {}).get(session_id)
              if stripe_service.STRIPE_ID.fullmatch(session_id) else None)
    confirmed = opened is not None and _payment_arrived(request.user, session_id, opened["item"])
    watching = opened is not None and not confirmed and time.time() - opened["at"] < WATCH_PAYMENT_SECONDS
    context = {"account": billing.summary(request.user), "confirmed": confirmed, "watching": watching,
               "item": opened["item"] if opened else None}
    if request.htmx:
        response = render(request, "webapp/account/_payment_status.html", context,
                          status=200 if watching else HTMX_STOP_POLLING)
    else:
        response = render(request, "webapp/account/payment_done.html", context)
    patch_vary_headers(response, ["HX-Request"])  # a fragment or the page, at one address
    return response


def _payment_arrived(user, session_id: str, item: str) -> bool:
    kind, code = item.split(":", 1)
    if kind == "pack":
        return billing.entries(user).filter(kind=EntryKind.PURCHASE, payment_ref=session_id).exists()
    return billing.summary(user)["plan"]["code"] == code


@login_required
@require_safe
def payment_cancelled(request):
    return render(request, "webapp/account/payment_cancelled.html")


@login_required
@require_POST
def portal(request):
    if not stripe_service.configured():
        return _overview(request, portal_error=PAYMENTS_OFF, status=503)
    try:
        url = stripe_service.portal_url(billing.account(request.user),
                                        return_url=request.build_absolute_uri(reverse("webapp:account")))
    except stripe_service.NoCustomer:
        return _overview(request, portal_error="You have not paid through Stripe yet, so there is no billing "
                                               "portal to open.", status=409)
    except stripe_service.PaymentProviderError:
        return _overview(request, portal_error=PROVIDER_FAILED, status=502)
    return HttpResponseRedirect(url, status=303)


# --- The ledger and usage ---------------------------------------------------------------------------------------

@login_required
@require_safe
def ledger(request):
    try:
        page = services.ledger_page(request.user, request.GET.get("page"))
    except services.BadPage:
        return render(request, "webapp/account/ledger.html", {"page_error": "The page must be a whole number from 1."},
                      status=400)
    except EmptyPage:
        raise Http404("No such page of the ledger.") from None
    return render(request, "webapp/account/ledger.html", {"page": page, "kinds": services.KIND_WORDS})


@login_required
@require_safe
def usage(request):
    form = UsageRangeForm(request.GET if "days" in request.GET else None)
    if form.is_bound and not form.is_valid():
        return render(request, "webapp/account/usage.html", {"form": form}, status=400)
    days = form.cleaned_data["days"] if form.is_bound else services.DEFAULT_USAGE_DAYS
    context = {"form": form, "chart": services.usage_chart(request.user, days=days), "days": days}
    template = "webapp/account/_usage_chart.html" if request.htmx else "webapp/account/usage.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Your data: export and deletion -----------------------------------------------------------------------------

@login_required
@require_safe
def export(request):
    """The same document as GET /api/account/export/, streamed as a download."""
    response = StreamingHttpResponse(accounts.export_account(request.user), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="account-export.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete(request):
    form = DeleteAccountForm(request.user, request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            accounts.erase_confirmed_account(request.user, form.cleaned_data["confirm"])
        except accounts.NotConfirmed:
            form.add_error("confirm", "That is not your username. Nothing was erased.")
        except accounts.SubscriptionActive:
            form.add_error(None, "You still pay for a plan. Cancel it in the billing portal first; nothing was "
                                 "erased.")
            status = 409
        else:
            logout(request)
            return redirect("webapp:account_deleted")
    if form.errors and status == 200:
        status = 400
    return render(request, "webapp/account/delete.html", {"form": form}, status=status)


@require_safe
def deleted(request):
    return render(request, "webapp/account/deleted.html")
