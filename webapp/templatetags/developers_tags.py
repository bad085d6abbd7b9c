"""`{% once_field %}`: the hidden input that makes a Developers form take effect once (webapp/developers_services)."""

from django import template
from django.utils.html import format_html

from webapp.developers_services import ONCE_FIELD, once_token

register = template.Library()


@register.simple_tag
def once_field():
    return format_html('<input type="hidden" name="{}" value="{}">', ONCE_FIELD, once_token())
