"""The team's side of the studio: workspaces and who belongs to them."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from studio.secrets import EncryptedTextField


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


MANAGERS = (Role.OWNER, Role.ADMIN)  # manage members, budgets and the key
SPENDERS = (Role.OWNER, Role.ADMIN, Role.MEMBER)  # may run jobs and spend credits


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user) -> WorkspaceQuerySet:
        """The workspaces a user belongs to; the start of every workspace lookup."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user, deleted_at__isnull=True)


class Workspace(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    personal = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The credit pool: what the team bought upstream, mirrored here. When it is on, holds must
    # fit in it. `pool_balance` always equals the sum of the workspace's ledger entries; it is
    # kept beside them in the same transaction so a hold need not add up a million rows.
    pool_enabled = models.BooleanField(default=False)
    pool_balance = models.DecimalField(max_digits=16, decimal_places=4, default=0)
    # Jobs estimated above this many credits wait for an admin's approval (none: never).
    approval_threshold = models.PositiveIntegerField(null=True, blank=True)
    # The team's own API in One key, encrypted at rest; never shown, never logged. Only its
    # last four characters are kept in the clear, to tell keys apart.
    api_key = EncryptedTextField(blank=True, default="")
    api_key_last4 = models.CharField(max_length=8, blank=True)

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def uses_sandbox(self) -> bool:
        """Without a key of its own or the studio's APIINONE_API_KEY, it talks to the sandbox."""
        return not (self.api_key or settings.APIINONE_API_KEY)

    @classmethod
    def create_personal(cls, user) -> Workspace:
        """Every new user gets a workspace of their own, which they own."""
        with transaction.atomic():
            workspace = cls.objects.create(name=f"{user.username}'s workspace", personal=True)
            Membership.objects.create(
                workspace=workspace, user=user, role=Role.OWNER, selected_at=timezone.now()
            )
        return workspace


class Membership(models.Model):
    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)
    # The workspace a user last switched to is the one they see next time, on any device.
    selected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    @property
    def can_spend(self) -> bool:
        return self.role in SPENDERS

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGERS

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    def can_assign(self, role: str) -> bool:
        """Whether this member may give (or take away, invite to, see invitations to) `role`:
        owners any role, admins members and viewers only, everyone else none."""
        if self.is_owner:
            return role in Role.values
        return self.can_manage and role not in MANAGERS

    @classmethod
    def current_for(cls, user) -> Membership | None:
        return (
            cls.objects.filter(user=user, workspace__deleted_at__isnull=True)
            .select_related("workspace")
            .order_by(models.F("selected_at").desc(nulls_last=True), "created_at")
            .first()
        )


class LedgerEntry(models.Model):
    """One movement of credits. Append-only: corrections are new entries.

    Amounts are signed, seen from the workspace's pool: a hold or a charge takes (negative), a
    release, a refund of an over-hold or a grant gives (positive). A job's cost is minus the sum
    of its entries. Only studio/ledger.py writes these.
    """

    class Kind(models.TextChoices):
        HOLD = "hold", "Hold"
        SETTLE = "settle", "Settle"
        RELEASE = "release", "Release"
        GRANT = "grant", "Grant"
        ADJUST = "adjust", "Adjustment"

    workspace = models.ForeignKey(Workspace, models.PROTECT, related_name="ledger")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=4)
    generation = models.ForeignKey(
        "generations.Generation", models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    message = models.ForeignKey(
        "generations.Message", models.PROTECT, null=True, blank=True, related_name="ledger"
    )
    model_slug = models.CharField(max_length=64, blank=True)  # copied for reports
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["generation"],
                condition=models.Q(kind="hold"),
                name="one_hold_per_generation",
            ),
            models.UniqueConstraint(
                fields=["generation"],
                condition=models.Q(kind__in=["settle", "release"]),
                name="one_resolution_per_generation",
            ),
            models.UniqueConstraint(
                fields=["message"], condition=models.Q(kind="hold"), name="one_hold_per_message"
            ),
            models.UniqueConstraint(
                fields=["message"],
                condition=models.Q(kind__in=["settle", "release"]),
                name="one_resolution_per_message",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "created_at"]),
            models.Index(fields=["workspace", "member", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} in {self.workspace_id}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise LedgerImmutable("Ledger entries are never changed; add a correcting entry.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable("Ledger entries are never deleted; add a correcting entry.")


class LedgerImmutable(Exception):
    pass


class Budget(models.Model):
    """A member's spending limit per period in one workspace (none: no limit)."""

    class Period(models.TextChoices):
        DAY = "day", "Day"
        WEEK = "week", "Week"
        MONTH = "month", "Month"
        NONE = "none", "No limit"

    membership = models.OneToOneField(Membership, models.CASCADE, related_name="budget")
    limit = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.NONE)

    def __str__(self) -> str:
        return f"{self.limit} per {self.period}"


class UsageDay(models.Model):
    """Credits a member's jobs took on one model on one day: the ledger's job entries, summed
    as they are written (in the same transaction), so reports over millions of entries read a
    few thousand rows and stay exact."""

    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="+")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    model_slug = models.CharField(max_length=64, blank=True)
    day = models.DateField()
    credits = models.DecimalField(max_digits=16, decimal_places=4, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "member", "model_slug", "day"], name="one_usage_row_per_day"
            )
        ]
        indexes = [models.Index(fields=["workspace", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.model_slug}: {self.credits}"


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


def _in_a_week():
    return timezone.now() + timedelta(days=7)


class Invitation(models.Model):
    """A one-use link that makes whoever opens it (signed in) a member with a role."""

    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True, default=_invitation_token)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    email = models.EmailField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_in_a_week)
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation to {self.workspace} as {self.role}"

    def problem(self, now=None) -> str | None:
        """Why this link cannot be used, in a sentence; None when it can."""
        now = now or timezone.now()
        if self.role in MANAGERS and not self._maker_still_owns():
            return (
                "This invitation no longer works: whoever made it may no longer give that role. "
                "Ask an owner of the workspace for a new one."
            )
        if self.revoked_at:
            return "This invitation was withdrawn by an admin of the workspace."
        if self.used_at:
            return "This invitation has already been used; each link works once."
        if self.expires_at <= now:
            return f"This invitation expired on {self.expires_at:%Y-%m-%d}; ask for a new one."
        if self.workspace.deleted_at:
            return "The workspace this invitation was for no longer exists."
        return None

    def join(self, user) -> str | None:
        """Makes `user` a member with this link's role, and the workspace they work in now;
        None when done, else why not in a sentence. The one use is claimed in the same
        transaction: a second click, or a second person, finds it used."""
        problem = self.problem()
        if problem:
            return problem
        if Membership.objects.filter(workspace=self.workspace_id, user=user).exists():
            return f"You already belong to “{self.workspace.name}”."
        with transaction.atomic():
            claimed = Invitation.objects.filter(
                pk=self.pk, used_at__isnull=True, revoked_at__isnull=True
            ).update(used_at=timezone.now(), used_by=user)
            if not claimed:
                return "This invitation has already been used; each link works once."
            Membership.objects.create(
                workspace_id=self.workspace_id, user=user, role=self.role,
                selected_at=timezone.now(),
            )  # fmt: skip
            maker = self.created_by.username if self.created_by else "a deleted user"
            AuditEvent.record(
                self.workspace, user, "joined",
                f"{user.username} as {self.role}, with invitation #{self.pk} made by {maker}",
            )  # fmt: skip
        return None

    def _maker_still_owns(self) -> bool:
        """An owner's link to an admin or owner role is only as good as its maker's ownership."""
        return Membership.objects.filter(
            workspace_id=self.workspace_id, user_id=self.created_by_id, role=Role.OWNER
        ).exists()


class AuditEvent(models.Model):
    """Who changed what in a workspace, for its admins. Never holds a key's value."""

    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=40)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action}: {self.detail}"

    @classmethod
    def record(cls, workspace, actor, action: str, detail: str = "") -> AuditEvent:
        return cls.objects.create(
            workspace=workspace, actor=actor, action=action, detail=detail[:300]
        )


class ThrottleHit(models.Model):
    """One attempt at something the studio limits (sign-ups from an address, password reset
    requests, key checks): a sliding window, counted in the database so that every web
    process sees the same count. Only studio/throttle.py writes these."""

    scope = models.CharField(max_length=32)
    key = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["scope", "key", "at"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} at {self.at}"


class UpstreamCheck(models.Model):
    """One reconciliation of the ledger with API in One's own records (studio/audit.py): how
    many ended jobs were looked up, and every one whose charges differ."""

    ran_at = models.DateTimeField(default=timezone.now)
    days = models.PositiveSmallIntegerField()
    checked = models.PositiveIntegerField(default=0)
    unanswered = models.PositiveIntegerField(default=0)  # the upstream could not be asked
    unstated = models.PositiveIntegerField(default=0)  # succeeded without saying its charge
    drift = models.JSONField(default=list)  # [{workspace_id, code, model, studio, upstream}]

    class Meta:
        ordering = ["-ran_at"]

    def __str__(self) -> str:
        return f"upstream check {self.ran_at:%Y-%m-%d %H:%M}: {len(self.drift)} differ"
