"""The workspace's credits, for its admins: the pool, grants and adjustments, member budgets."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from studio import audit, ledger
from studio.access import StudioRequest, manager_membership
from studio.forms import AdjustForm, BudgetForm, GrantForm
from studio.models import AuditEvent, Budget, LedgerEntry, Membership, UpstreamCheck, Workspace


def _page(request: StudioRequest, membership: Membership, **forms_) -> TemplateResponse:
    workspace = Workspace.objects.get(pk=membership.workspace_id)
    members = Membership.objects.filter(workspace=workspace).select_related("user", "budget")
    rows = []
    for member in members:
        budget = getattr(member, "budget", None)
        room = ledger.allowance(workspace, member.user_id)
        rows.append((member, BudgetForm(instance=budget, prefix=f"m{member.pk}"), room))
    context = {
        "workspace": workspace,
        # Off, the pool's balance is only grants minus spending, often below zero: what was
        # spent says more. On, a balance below zero is an overdraft that refuses every job.
        "spent": None if workspace.pool_enabled else ledger.spent(workspace.pk, None),
        "overdrawn": -workspace.pool_balance
        if workspace.pool_enabled and workspace.pool_balance < 0
        else None,
        "rows": rows,
        "grant_form": forms_.get("grant_form") or GrantForm(),
        "adjust_form": forms_.get("adjust_form") or AdjustForm(),
        "entries": LedgerEntry.objects.filter(workspace=workspace)
        .select_related("member", "created_by", "generation")
        .order_by("-created_at", "-pk")[:50],
        **_upstream_check(workspace),
    }
    return TemplateResponse(request, "studio/credits.html", context)


def _upstream_check(workspace: Workspace) -> dict:
    """What the last reconciliation with API in One found for this workspace (only its jobs)."""
    check = UpstreamCheck.objects.first()
    if check is None:
        return {"upstream_check": None}
    jobs = [item for item in check.drift if item["workspace_id"] == workspace.pk][:50]
    return {
        "upstream_check": check,
        "drift_jobs": jobs,
        "drift_summary": audit.drift_summary(check, workspace.pk),
    }


@login_required
@require_GET
def credits_page(request: StudioRequest) -> HttpResponse:
    return _page(request, manager_membership(request))


@login_required
@require_POST
def pool(request: StudioRequest) -> HttpResponse:
    membership = manager_membership(request)
    enabled = request.POST.get("pool_enabled") == "on"
    Workspace.objects.filter(pk=membership.workspace_id).update(pool_enabled=enabled)
    AuditEvent.record(membership.workspace, request.user, "pool", "on" if enabled else "off")
    messages.success(request, "The credit pool is on." if enabled else "The credit pool is off.")
    return redirect("credits")


@login_required
@require_POST
def threshold(request: StudioRequest) -> HttpResponse:
    membership = manager_membership(request)
    raw = request.POST.get("approval_threshold", "").strip()
    if raw and (not raw.isdigit() or int(raw) < 1):
        messages.error(request, "The approval threshold is a whole number of credits, 1 or more.")
        return redirect("credits")
    value = int(raw) if raw else None
    Workspace.objects.filter(pk=membership.workspace_id).update(approval_threshold=value)
    AuditEvent.record(
        membership.workspace, request.user, "approval threshold", str(value or "none")
    )
    messages.success(
        request,
        f"Jobs above {value} credits now wait for approval."
        if value
        else "No job waits for approval any more.",
    )
    return redirect("credits")


@login_required
@require_POST
def grant(request: StudioRequest) -> HttpResponse:
    membership = manager_membership(request)
    form = GrantForm(request.POST)
    if not form.is_valid():
        return _page(request, membership, grant_form=form)
    data = form.cleaned_data
    ledger.grant(membership.workspace, data["amount"], by=request.user, reason=data["reason"])
    AuditEvent.record(
        membership.workspace, request.user, "credits granted",
        f"{ledger.fmt(data['amount'])}: {data['reason']}",
    )  # fmt: skip
    messages.success(request, f"Added {ledger.fmt(data['amount'])} credits to the pool.")
    return redirect("credits")


@login_required
@require_POST
def adjust(request: StudioRequest) -> HttpResponse:
    membership = manager_membership(request)
    form = AdjustForm(request.POST)
    if not form.is_valid():
        return _page(request, membership, adjust_form=form)
    data = form.cleaned_data
    ledger.adjust(membership.workspace, data["amount"], by=request.user, reason=data["reason"])
    AuditEvent.record(
        membership.workspace, request.user, "ledger adjusted",
        f"{ledger.fmt(data['amount'])}: {data['reason']}",
    )  # fmt: skip
    messages.success(request, f"Adjusted the ledger by {ledger.fmt(data['amount'])} credits.")
    return redirect("credits")


@login_required
@require_POST
def budget(request: StudioRequest, membership_id: int) -> HttpResponse:
    admin = manager_membership(request)
    member = get_object_or_404(Membership, pk=membership_id, workspace_id=admin.workspace_id)
    instance = Budget.objects.filter(membership=member).first() or Budget(membership=member)
    form = BudgetForm(request.POST, instance=instance, prefix=f"m{member.pk}")
    if form.is_valid():
        form.save()
        AuditEvent.record(
            admin.workspace, request.user, "budget changed",
            f"{member.user.username}: {form.describe()}",
        )  # fmt: skip
        messages.success(request, f"{member.user.username}'s budget is saved: {form.describe()}.")
    else:
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return redirect("credits")
