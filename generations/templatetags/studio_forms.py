"""Template helpers for forms."""

from __future__ import annotations

import uuid

from django import template

register = template.Library()


@register.simple_tag
def one_time_token() -> str:
    """A new token for a form that must act once however often it is sent (a double click,
    six tabs at once): the view finds the job it already made with it."""
    return uuid.uuid4().hex
