"""Read-only admin screens of the work: jobs and chat replies (they move only by their methods)."""

from __future__ import annotations

from django.contrib import admin

from generations.models import Generation, Message
from studio.admin import ReadOnlyAdmin


@admin.register(Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "code", "workspace", "user", "model_slug", "state", "estimate"]
    list_filter = ["state", "kind", "billing_open"]
    search_fields = ["code", "prompt", "upstream_task_id", "workspace__name"]
    list_select_related = ["workspace", "user"]
    exclude = ["callback_token"]  # a per-job secret: it lets whoever holds it nudge the job


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "conversation", "role", "complete", "credits_consumed"]
    list_filter = ["role", "complete"]
    list_select_related = ["conversation"]
