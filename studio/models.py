"""The team's side of the studio: workspaces and who belongs to them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


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

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

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

    @classmethod
    def current_for(cls, user) -> Membership | None:
        return (
            cls.objects.filter(user=user, workspace__deleted_at__isnull=True)
            .select_related("workspace")
            .order_by(models.F("selected_at").desc(nulls_last=True), "created_at")
            .first()
        )
