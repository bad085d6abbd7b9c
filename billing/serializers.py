"""The billing API's bodies. What can be bought is read from the plans and packs that have a Stripe price, so the
schema names exactly the codes the server accepts."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from video_generation.serializers import RejectUnknownFieldsMixin

from . import stripe_service


class PurchaseChoiceField(serializers.ChoiceField):
    """A string naming one of `choices` (no other JSON type is read as one)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class PurchaseChoiceFieldExtension(OpenApiSerializerFieldExtension):
    """The codes on sale, inline; with none on sale no value is valid."""

    target_class = PurchaseChoiceField

    def map_serializer_field(self, auto_schema, direction):
        codes = list(self.target.choices)
        return {"type": "string", "enum": codes} if codes else {"type": "string", "not": {}}


class CheckoutRequestSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """What to pay for: exactly one of a plan and a pack."""

    plan = PurchaseChoiceField(choices=[], required=False,
                               help_text="Subscribe to this plan (monthly); its credits come with each paid invoice.")
    pack = PurchaseChoiceField(choices=[], required=False, help_text="Buy this credit pack once.")

    exactly_one_of = ("plan", "pack")  # published as the schema's oneOf (video_generation/schema.py)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._offer("plan", [plan.code for plan in stripe_service.purchasable_plans()])
        self._offer("pack", [pack.code for pack in stripe_service.purchasable_packs()])

    def _offer(self, name: str, codes: list[str]) -> None:
        field = self.fields[name]
        field.choices = codes
        field.error_messages["invalid_choice"] = (
            f"No {name} \"{{input}}\" can be bought; choose one of: {', '.join(codes) or 'none is on sale'}.")

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError({"non_field_errors": ['Send exactly one of "plan" and "pack".']})
        return attrs


class CheckoutSerializer(serializers.Serializer):
    checkout_url = serializers.URLField(help_text="Send the user here to pay (Stripe's hosted Checkout page).")
    session_id = serializers.CharField(help_text="The Checkout Session's id (cs_…).")


class PortalSerializer(serializers.Serializer):
    portal_url = serializers.URLField(help_text="Stripe's billing portal for your subscription, invoices and "
                                                "payment methods; valid for a few minutes.")
