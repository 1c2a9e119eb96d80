"""Workspaces: create, switch, rename, leave, delete; members and roles; invitations; the key;
the audit log. Anything of a workspace the user is not in answers 404."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generations import client
from studio import throttle
from studio.access import StudioRequest, manager_membership
from studio.forms import InviteForm, KeyForm, NameForm
from studio.models import AuditEvent, Invitation, Membership, Role, Workspace
from studio.secrets import last4


def _assignable_choices(membership) -> list[tuple[str, str]]:
    """The roles this member may give or take away."""
    return [(value, label) for value, label in Role.choices if membership.can_assign(value)]


def _membership(request: StudioRequest) -> Membership:
    membership = request.membership
    if not membership:
        raise Http404("No workspace")
    return membership


def _owner(request: StudioRequest) -> Membership:
    membership = _membership(request)
    if not membership.is_owner:
        raise Http404("No such page")
    return membership


def _owners(workspace_id: int) -> int:
    """Owners now; callers hold the workspace row locked, so two owners demoting each other at
    once cannot both pass the "at least one owner" check."""
    Workspace.objects.select_for_update().filter(pk=workspace_id).first()
    return Membership.objects.filter(workspace_id=workspace_id, role=Role.OWNER).count()


# -- the list, create, switch ---------------------------------------------------------------------


@login_required
@require_GET
def workspaces(request: StudioRequest) -> HttpResponse:
    return TemplateResponse(
        request, "studio/workspaces.html", {"memberships": _mine(request), "form": NameForm()}
    )


def _mine(request: StudioRequest):
    return (
        Membership.objects.filter(user=request.user, workspace__deleted_at__isnull=True)
        .select_related("workspace")
        .order_by("workspace__name")
    )


@login_required
@require_POST
def create_workspace(request: StudioRequest) -> HttpResponse:
    form = NameForm(request.POST)
    if not form.is_valid():
        return TemplateResponse(
            request, "studio/workspaces.html", {"memberships": _mine(request), "form": form}
        )
    with transaction.atomic():
        workspace = Workspace.objects.create(name=form.cleaned_data["name"])
        Membership.objects.create(
            workspace=workspace, user=request.user, role=Role.OWNER, selected_at=timezone.now()
        )
        AuditEvent.record(workspace, request.user, "workspace created", workspace.name)
    messages.success(request, f"“{workspace.name}” is ready, and you are working in it.")
    return redirect("workspace")


@login_required
@require_POST
def switch(request: StudioRequest, code) -> HttpResponse:
    membership = Membership.objects.filter(
        user=request.user, workspace__code=code, workspace__deleted_at__isnull=True
    ).first()
    if membership is None:
        raise Http404("No such workspace")
    Membership.objects.filter(pk=membership.pk).update(selected_at=timezone.now())
    messages.success(request, f"Now working in “{membership.workspace.name}”.")
    return redirect("create")


# -- the current workspace ----------------------------------------------------------------------


@login_required
@require_GET
def workspace(request: StudioRequest) -> HttpResponse:
    membership = _membership(request)
    ws = Workspace.objects.get(pk=membership.workspace_id)
    choices = _assignable_choices(membership)
    context = {
        "workspace": ws,
        "membership": membership,
        "members": Membership.objects.filter(workspace=ws)
        .select_related("user")
        .order_by("user__username"),
        "rename_form": NameForm(initial={"name": ws.name}),
        "role_choices": choices,
        "assignable": [value for value, _ in choices],
    }
    if membership.can_manage:
        context["invite_form"] = InviteForm()
        context["invite_form"].fields["role"].choices = choices
        context["key_form"] = KeyForm()
        # Links to a role this member may not give are not theirs to see (an admin who opened
        # an owner's link would join as owner).
        context["invitations"] = ws.invitations.filter(
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
            role__in=[role for role in Role.values if membership.can_assign(role)],
        )
    return TemplateResponse(request, "studio/workspace.html", context)


@login_required
@require_POST
def rename(request: StudioRequest) -> HttpResponse:
    membership = _owner(request)
    form = NameForm(request.POST)
    if form.is_valid():
        old = membership.workspace.name
        Workspace.objects.filter(pk=membership.workspace_id).update(name=form.cleaned_data["name"])
        AuditEvent.record(
            membership.workspace, request.user, "renamed", f"{old} → {form.cleaned_data['name']}"
        )
        messages.success(request, "Renamed.")
    else:
        messages.error(request, "Give the workspace a name (up to 100 characters).")
    return redirect("workspace")


def _may_change(actor: Membership, target: Membership, new_role: str | None) -> str | None:
    """Why `actor` may not change `target` (to `new_role`, or remove them); None if allowed."""
    if not actor.can_manage:
        return "Only admins manage members."
    if not actor.can_assign(target.role) or (new_role and not actor.can_assign(new_role)):
        return "Only owners make or unmake admins and owners."
    if target.is_owner and new_role != Role.OWNER and _owners(target.workspace_id) == 1:
        return "A workspace keeps at least one owner: make someone else owner first."
    return None


@login_required
@require_POST
def member_role(request: StudioRequest, member_id: int) -> HttpResponse:
    actor = manager_membership(request)
    target = get_object_or_404(Membership, pk=member_id, workspace_id=actor.workspace_id)
    new_role = request.POST.get("role", "")
    if new_role not in Role.values:
        messages.error(request, "Choose a role.")
        return redirect("workspace")
    with transaction.atomic():
        problem = _may_change(actor, target, new_role)
        if not problem:
            Membership.objects.filter(pk=target.pk).update(role=new_role)
    if problem:
        messages.error(request, problem)
        return redirect("workspace")
    AuditEvent.record(
        actor.workspace, request.user, "role changed",
        f"{target.user.username}: {target.role} → {new_role}",
    )  # fmt: skip
    messages.success(request, f"{target.user.username} is now {Role(new_role).label.lower()}.")
    return redirect("workspace")


@login_required
@require_POST
def member_remove(request: StudioRequest, member_id: int) -> HttpResponse:
    actor = manager_membership(request)
    target = get_object_or_404(Membership, pk=member_id, workspace_id=actor.workspace_id)
    with transaction.atomic():
        problem = _may_change(actor, target, None)
        if not problem:
            target.delete()
            AuditEvent.record(actor.workspace, request.user, "member removed", target.user.username)
            _ensure_a_workspace(target.user)
    if problem:
        messages.error(request, problem)
        return redirect("workspace")
    messages.success(request, f"{target.user.username} no longer belongs to this workspace.")
    return redirect("workspace")


@login_required
@require_POST
def leave(request: StudioRequest) -> HttpResponse:
    membership = _membership(request)
    with transaction.atomic():
        if membership.is_owner and _owners(membership.workspace_id) == 1:
            messages.error(
                request, "You are its last owner: make someone else owner, or delete it."
            )
            return redirect("workspace")
        membership.delete()
        AuditEvent.record(membership.workspace, request.user, "left", request.user.username)
        _ensure_a_workspace(request.user)
    messages.success(request, f"You left “{membership.workspace.name}”.")
    return redirect("create")


@login_required
@require_POST
def delete(request: StudioRequest) -> HttpResponse:
    membership = _owner(request)
    ws = membership.workspace
    if request.POST.get("confirm", "").strip() != ws.name:
        messages.error(request, f"Type the workspace's name, “{ws.name}”, to delete it.")
        return redirect("workspace")
    with transaction.atomic():
        # Kept for the record: its jobs and its ledger stay; it just disappears for everyone.
        Workspace.objects.filter(pk=ws.pk).update(deleted_at=timezone.now())
        AuditEvent.record(ws, request.user, "workspace deleted", ws.name)
        for member in Membership.objects.filter(workspace=ws).select_related("user"):
            _ensure_a_workspace(member.user)
    messages.success(request, f"“{ws.name}” is deleted. Its jobs and ledger are kept on record.")
    return redirect("create")


def _ensure_a_workspace(user) -> None:
    if not Workspace.objects.for_user(user).exists():
        Workspace.create_personal(user)


# -- invitations --------------------------------------------------------------------------------


@login_required
@require_POST
def invite(request: StudioRequest) -> HttpResponse:
    actor = manager_membership(request)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the invitation: a role, an optional email, 1–30 days.")
        return redirect("workspace")
    role = form.cleaned_data["role"]
    if not actor.can_assign(role):
        messages.error(request, "Only owners invite admins and owners.")
        return redirect("workspace")
    invitation = Invitation.objects.create(
        workspace=actor.workspace,
        role=role,
        email=form.cleaned_data["email"],
        created_by=request.user,
        expires_at=timezone.now() + timedelta(days=form.cleaned_data["days"]),
    )
    AuditEvent.record(
        actor.workspace, request.user, "invitation created",
        f"#{invitation.pk} ({role}){' for ' + invitation.email if invitation.email else ''}",
    )  # fmt: skip
    link = request.build_absolute_uri(f"/invite/{invitation.token}")
    messages.success(request, f"Invitation link (works once): {link}")
    return redirect("workspace")


@login_required
@require_POST
def revoke(request: StudioRequest, invitation_id: int) -> HttpResponse:
    actor = manager_membership(request)
    invitation = get_object_or_404(Invitation, pk=invitation_id, workspace_id=actor.workspace_id)
    if not actor.can_assign(invitation.role):
        raise Http404("Only owners see invitations to admin or owner")
    if Invitation.objects.filter(
        pk=invitation.pk, revoked_at__isnull=True, used_at__isnull=True
    ).update(revoked_at=timezone.now()):
        AuditEvent.record(
            actor.workspace, request.user, "invitation revoked",
            f"#{invitation.pk} ({invitation.role}) made by {_name(invitation.created_by)}",
        )  # fmt: skip
        messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("workspace")


@require_http_methods(["GET", "POST"])
def accept(request: StudioRequest, token: str) -> HttpResponse:
    invitation = Invitation.objects.filter(token=token).select_related("workspace").first()
    if invitation is None:
        return TemplateResponse(
            request, "studio/invitation.html",
            {"problem": "This invitation link is not valid: check that it was copied whole."},
            status=404,
        )  # fmt: skip
    member = (
        request.user.is_authenticated
        and Membership.objects.filter(workspace=invitation.workspace, user=request.user).exists()
    )
    if member and request.method == "POST":  # in already (it may be their own used link)
        messages.info(request, f"You already belong to “{invitation.workspace.name}”.")
        return redirect("workspaces")
    problem = invitation.problem()
    context = {"invitation": invitation, "problem": problem}
    if problem or request.method == "GET" or not request.user.is_authenticated:
        return TemplateResponse(
            request, "studio/invitation.html", context, status=410 if problem else 200
        )
    refused = invitation.join(request.user)
    if refused:
        context["problem"] = refused
        return TemplateResponse(request, "studio/invitation.html", context, status=410)
    messages.success(request, f"Welcome to “{invitation.workspace.name}”.")
    return redirect("create")


def _name(user) -> str:
    return user.username if user is not None else "a deleted user"


# -- the key ------------------------------------------------------------------------------------


@sensitive_variables()
@sensitive_post_parameters("api_key")
@login_required
@require_POST
def key(request: StudioRequest) -> HttpResponse:
    actor = manager_membership(request)
    if request.POST.get("action") == "clear":
        Workspace.objects.filter(pk=actor.workspace_id).update(api_key="", api_key_last4="")
        AuditEvent.record(actor.workspace, request.user, "key cleared")
        messages.success(request, "Key removed: this workspace now uses the sandbox.")
        return redirect("workspace")
    form = KeyForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("api_key", []):
            messages.error(request, error)
        return redirect("workspace")
    key = form.cleaned_data["api_key"]
    if not key:
        messages.info(request, "The stored key is kept.")
        return redirect("workspace")
    # Each check is a request to API in One with a guessed key: not an oracle to hammer.
    limit, hour = settings.STUDIO_KEY_CHECKS_PER_HOUR, timedelta(hours=1)
    wait = throttle.hit("key-check-ws", str(actor.workspace_id), limit, hour) or throttle.hit(
        "key-check-user", str(request.user.pk), limit, hour
    )
    if wait:
        messages.error(
            request,
            f"Keys were checked too often just now: try again in {throttle.wait_words(wait)}.",
        )
        return redirect("workspace")
    account = client.Account(base_url=settings.APIINONE_BASE_URL, api_key=key)
    try:
        client.check_key(account)
    except client.UpstreamError as e:
        answered = e.message
        if e.status and not answered.startswith("HTTP"):
            answered = f"HTTP {e.status}: {answered}"
        answered = answered.replace(key, "…")
        if e.kind == client.AUTHENTICATION:
            messages.error(request, f"This key is not valid: API in One refused it ({answered}).")
        else:
            messages.error(
                request,
                f"API in One could not be reached to check the key ({answered[:200]}); the key "
                "was not saved: try again.",
            )
        return redirect("workspace")
    ws = Workspace.objects.get(pk=actor.workspace_id)
    ws.api_key = key
    ws.api_key_last4 = last4(key)
    ws.save(update_fields=["api_key", "api_key_last4"])
    AuditEvent.record(ws, request.user, "key set", f"key {ws.api_key_last4}")
    messages.success(request, f"Key {ws.api_key_last4} saved: this workspace now uses API in One.")
    return redirect("workspace")


# -- the audit log ------------------------------------------------------------------------------


@login_required
@require_GET
def audit(request: StudioRequest) -> HttpResponse:
    actor = manager_membership(request)
    events = AuditEvent.objects.filter(workspace_id=actor.workspace_id).select_related("actor")[
        :500
    ]
    return TemplateResponse(request, "studio/audit.html", {"events": events})
