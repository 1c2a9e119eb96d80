from __future__ import annotations

from django.contrib import admin

from studio.models import Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "personal", "created_at", "deleted_at"]
    search_fields = ["name", "code"]
    readonly_fields = ["code"]
    inlines = [MembershipInline]
