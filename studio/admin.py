from __future__ import annotations

from django.contrib import admin

from studio.models import AuditEvent, LedgerEntry, Membership, Workspace


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that only their own code writes (the ledger is append-only, the audit log a
    history, jobs move by their methods): the admin shows them and changes nothing."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "kind", "amount", "member", "model_slug", "reason"]
    list_filter = ["kind"]
    search_fields = ["workspace__name", "model_slug", "reason"]
    list_select_related = ["workspace", "member"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "workspace", "actor", "action", "detail"]
    list_filter = ["action"]
    search_fields = ["workspace__name", "action", "detail"]
    list_select_related = ["workspace", "actor"]
