"""`{% once_field %}`: the hidden input that makes a Developers form take effect once (webapp/once.py)."""

from django import template
from django.utils.html import format_html

from webapp import once

register = template.Library()


@register.simple_tag
def once_field():
    return format_html('<input type="hidden" name="{}" value="{}">', once.FIELD, once.new_token())
