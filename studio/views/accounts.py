"""Sign up and password reset (throttled), and the page a locked-out sign-in gets. Log in, log
out and password change are Django's own views (see studio/urls.py); django-axes throttles
logins."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from studio import throttle
from studio.access import StudioRequest, client_ip, safe_next
from studio.forms import SignupForm
from studio.models import Invitation, Workspace

HOUR = timedelta(hours=1)
INVITATION_PATH = re.compile(r"/invite/([A-Za-z0-9_\-]{10,64})")


def _invitation(next_url: str) -> Invitation | None:
    """The working invitation `next` links to, if it does: with open sign-up off, only its
    holder signs up, and signing up from it joins its workspace at once."""
    match = INVITATION_PATH.fullmatch(next_url or "")
    invitation = match and Invitation.objects.filter(token=match[1]).first()
    return invitation if invitation and invitation.problem() is None else None


@require_http_methods(["GET", "POST"])
def signup(request: StudioRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("create")
    next_url = safe_next(request)
    context = {"next": next_url}
    invitation = _invitation(next_url)
    if not settings.STUDIO_OPEN_SIGNUP and invitation is None:
        return TemplateResponse(request, "registration/signup_closed.html", context, status=403)
    form = SignupForm(request.POST or None)
    context["form"] = form
    if request.method == "POST":
        # Every attempt counts: a taken username is an answer, so guessing them is throttled.
        wait = throttle.hit("signup", client_ip(request), settings.STUDIO_SIGNUPS_PER_HOUR, HOUR)
        if wait:
            _only_say(
                form,
                f"Too many sign-ups from your network just now: try again in "
                f"{throttle.wait_words(wait)}.",
            )
            return TemplateResponse(request, "registration/signup.html", context, status=429)
        if form.is_valid():
            with transaction.atomic():
                user = form.save()
                workspace = Workspace.create_personal(user)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if invitation is not None:  # signed up to join: joined, no second click
                refused = invitation.join(user)
                if refused is None:
                    messages.success(request, f"Welcome to “{invitation.workspace.name}”.")
                    return redirect("create")
            messages.success(request, f"Welcome! Your workspace “{workspace.name}” is ready.")
            return redirect(next_url or "create")
    return TemplateResponse(request, "registration/signup.html", context)


def _only_say(form, sentence: str) -> None:
    """A throttled form shown again with that one sentence, none of its own messages."""
    form.is_valid()
    form.errors.clear()
    form.add_error(None, sentence)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset view, throttled per address and per email. Whatever the email, the answer
    is the same page: it never tells whether an account has it."""

    def post(self, request, *args, **kwargs):
        email = request.POST.get("email", "").strip().lower()
        limit = settings.STUDIO_RESETS_PER_HOUR
        wait = throttle.hit("reset-ip", client_ip(request), limit, HOUR) or (
            email and throttle.hit("reset-email", email, limit, HOUR)
        )
        if wait:
            form = self.get_form()
            _only_say(
                form,
                "Too many reset requests just now: try again in "
                f"{throttle.wait_words(wait)}. If an account has this email, a link is on its way.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


def locked_out(request: StudioRequest, response=None, credentials=None) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the person is told, in a sentence,
    that sign-in is paused and for how long."""
    minutes = settings.STUDIO_LOGIN_LOCKOUT_MINUTES
    return render(  # rendered now: it replaces a response that went through the middleware
        request,
        "registration/locked_out.html",
        {"lockout_words": throttle.wait_words(timedelta(minutes=minutes))},
        status=429,
    )
