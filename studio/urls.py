from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from studio.views import accounts, assets, credits, health, usage, workspaces

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", assets.favicon, name="favicon"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("usage/", usage.usage_page, name="usage"),
    path("usage/export.csv", usage.usage_csv, name="usage-csv"),
    path("usage/jobs", usage.usage_jobs, name="usage-jobs"),
    path("credits/", credits.credits_page, name="credits"),
    path("credits/pool", credits.pool, name="credits-pool"),
    path("credits/grant", credits.grant, name="credits-grant"),
    path("credits/approval", credits.threshold, name="credits-threshold"),
    path("credits/adjust", credits.adjust, name="credits-adjust"),
    path("credits/budget/<int:membership_id>", credits.budget, name="credits-budget"),
    path("workspaces/", workspaces.workspaces, name="workspaces"),
    path("workspaces/new", workspaces.create_workspace, name="workspace-new"),
    path("workspaces/<uuid:code>/switch", workspaces.switch, name="workspace-switch"),
    path("workspace/", workspaces.workspace, name="workspace"),
    path("workspace/rename", workspaces.rename, name="workspace-rename"),
    path("workspace/leave", workspaces.leave, name="workspace-leave"),
    path("workspace/delete", workspaces.delete, name="workspace-delete"),
    path("workspace/key", workspaces.key, name="workspace-key"),
    path("workspace/audit", workspaces.audit, name="workspace-audit"),
    path("workspace/invitations", workspaces.invite, name="workspace-invite"),
    path(
        "workspace/invitations/<int:invitation_id>/revoke",
        workspaces.revoke,
        name="workspace-invite-revoke",
    ),
    path("workspace/members/<int:member_id>/role", workspaces.member_role, name="member-role"),
    path(
        "workspace/members/<int:member_id>/remove", workspaces.member_remove, name="member-remove"
    ),
    path("invite/<str:token>", workspaces.accept, name="invitation"),
    path("admin/", admin.site.urls),
    path("", include("generations.urls")),
]
