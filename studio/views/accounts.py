"""Sign up; log in, log out and password change are Django's own views (see studio/urls.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from studio.access import safe_next
from studio.forms import SignupForm
from studio.models import Workspace


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("create")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            workspace = Workspace.create_personal(user)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome! Your workspace “{workspace.name}” is ready.")
        return redirect(safe_next(request) or "create")
    return TemplateResponse(
        request, "registration/signup.html", {"form": form, "next": safe_next(request)}
    )
