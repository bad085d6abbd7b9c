"""Billing in the admin: plans and packs (editable), accounts with their balances and usage, the ledger (read-only),
and one way to change an account's credits by hand: an adjustment with a reason, posted through the ledger."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from video_generation.admin import ReadOnlyAdminMixin
from video_generation.models import JobStatus

from . import ledger
from .models import CreditPack, LedgerEntry, Plan, UserProfile

USAGE_DAYS = 30


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "monthly_credits", "price_usd", "max_scenes", "max_jobs_in_flight",
                    "generate_rate_limit", "allowed_qualities", "stripe_price_id"]
    ordering = ["sort_order"]

    def has_delete_permission(self, request, obj=None):
        return False  # accounts point at plans; retire a plan by moving its accounts, not by deleting it


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "credits", "price_usd", "active", "stripe_price_id"]


class AdjustmentForm(forms.Form):
    credits = forms.IntegerField(help_text="Positive to give credits, negative to take them back (never below "
                                           "what is available).")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Shown to the customer in their ledger.")
    key = forms.CharField(widget=forms.HiddenInput)  # one adjustment per form, however often it is submitted

    def clean_credits(self):
        credits = self.cleaned_data["credits"]
        if credits == 0:
            raise forms.ValidationError("An adjustment of 0 credits changes nothing.")
        return credits


READ_ONLY_BALANCES = ["granted_credits", "purchased_credits", "held_credits", "videos_this_month", "period_start",
                      "period_end", "stripe_customer_id", "stripe_subscription_id", "created_at", "updated_at"]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "plan", "available", "granted_credits", "purchased_credits", "held_credits",
                    "videos_this_month", "videos_30d", "credits_30d", "provider_cost_30d", "period_end"]
    list_filter = ["plan"]
    search_fields = ["user__username", "user__email", "stripe_customer_id"]
    list_select_related = ["user", "plan"]
    fields = ["user", "plan", "adjust_link", *READ_ONLY_BALANCES]
    readonly_fields = ["user", "adjust_link", *READ_ONLY_BALANCES]

    def has_add_permission(self, request):
        return False  # every user gets an account when created

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger refers to it

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=USAGE_DAYS)
        done = Q(user__video_jobs__status=JobStatus.COMPLETED, user__video_jobs__completed_at__gte=since)
        ended = Q(user__video_jobs__completed_at__gte=since)
        return super().get_queryset(request).annotate(
            usage_videos=Count("user__video_jobs", filter=done),
            usage_credits=Sum("user__video_jobs__credits_used", filter=done),
            usage_cost=Sum("user__video_jobs__cost_usd", filter=ended))

    @admin.display(description="available")
    def available(self, profile: UserProfile) -> str:
        return "unlimited" if profile.plan.unlimited else str(profile.available_credits)

    @admin.display(description=f"videos ({USAGE_DAYS} d)", ordering="usage_videos")
    def videos_30d(self, profile) -> int:
        return profile.usage_videos

    @admin.display(description=f"credits ({USAGE_DAYS} d)", ordering="usage_credits")
    def credits_30d(self, profile) -> int:
        return profile.usage_credits or 0

    @admin.display(description=f"provider USD ({USAGE_DAYS} d)", ordering="usage_cost")
    def provider_cost_30d(self, profile) -> str:
        return str(profile.usage_cost or 0)

    @admin.display(description="Credits")
    def adjust_link(self, profile: UserProfile) -> str:
        url = reverse("admin:billing_userprofile_adjust", args=[profile.pk])
        entries = reverse("admin:billing_ledgerentry_changelist") + f"?account__id__exact={profile.pk}"
        return format_html('<a href="{}">Grant or adjust credits</a> · <a href="{}">Ledger</a>', url, entries)

    def get_urls(self):
        return [path("<int:profile_id>/adjust/", self.admin_site.admin_view(self.adjust_view),
                     name="billing_userprofile_adjust"), *super().get_urls()]

    def adjust_view(self, request, profile_id: int):
        profile = get_object_or_404(UserProfile.objects.select_related("user", "plan"), pk=profile_id)
        if not request.user.has_perm("billing.change_userprofile"):
            messages.error(request, "You may not change credits.")
            return redirect(reverse("admin:billing_userprofile_change", args=[profile.pk]))
        form = AdjustmentForm(request.POST or None, initial={"key": f"adjust:{uuid.uuid4()}"})
        if request.method == "POST" and form.is_valid():
            try:
                entry = ledger.adjust(profile.id, form.cleaned_data["credits"], reason=form.cleaned_data["reason"],
                                      by=request.user, key=form.cleaned_data["key"])
            except (ledger.InsufficientCredits, ValueError) as refused:
                form.add_error("credits", str(refused))
            else:
                messages.success(request, f"Adjusted {profile.user} by {entry.amount:+d} credits; "
                                          f"{entry.balance_after} available now.")
                return redirect(reverse("admin:billing_userprofile_change", args=[profile.pk]))
        context = {**self.admin_site.each_context(request), "title": f"Adjust the credits of {profile.user}",
                   "profile": profile, "form": form, "opts": self.model._meta}
        return render(request, "admin/billing/userprofile/adjust.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "created_at", "account", "kind", "amount", "balance_after", "job_id", "payment_ref",
                    "memo", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["account__user__username", "idempotency_key", "payment_ref", "memo"]
    list_select_related = ["account__user", "created_by"]
