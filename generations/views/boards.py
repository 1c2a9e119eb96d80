"""Boards: named collections of results the workspace shares (a result on several), shown as
the gallery filtered by the board; and their share links, which let someone without an account
see one board's results, read-only, until the link expires or is revoked."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from generations.downloads import filename_for
from generations.forms import BoardForm, ShareLinkForm
from generations.models import Board, Generation, GenerationFile, ShareLink
from generations.views import HtmxHttpRequest, current_workspace
from generations.views.downloads import MAX_CHOSEN, chosen_codes
from generations.views.files import stored_file
from studio.access import require_spender, safe_next
from studio.models import AuditEvent

SHARED_SHOWN = 200  # results a share link's page shows (newest first)


def get_board(request: HtmxHttpRequest, code) -> Board:
    board = Board.objects.for_membership(request.membership).filter(code=code).first()
    if board is None:
        raise Http404("No such board")
    return board


def board_url(board: Board) -> str:
    return f"{reverse('gallery')}?board={board.code}"


@login_required
@require_http_methods(["GET", "POST"])
def boards(request: HtmxHttpRequest) -> HttpResponse:
    """The workspace's boards, each with how many results it holds and a cover; a new one."""
    workspace = current_workspace(request)
    form = BoardForm(request.POST or None, workspace=workspace)
    if request.method == "POST":
        require_spender(request)
        board = _new_board(request, form) if form.is_valid() else None
        if board is not None:
            messages.success(
                request, f"Board “{board.name}” made: tick results in the gallery to add them."
            )
            return redirect(board_url(board))
    visible = Generation.objects.visible_to(request.user, request.membership).results()
    listed = (
        Board.objects.for_membership(request.membership)
        .annotate(shown=Count("items", filter=Q(items__generation__in=visible)))
        .order_by("name")
    )
    context = {"boards": list(listed), "form": form}
    return TemplateResponse(request, "generations/boards.html", context)


def _error(form: BoardForm) -> str:
    return " ".join(str(error) for error in form.errors.get("name", []))


def _new_board(request: HtmxHttpRequest, form: BoardForm) -> Board | None:
    """A board of the valid form's name; None (an error on the form) when another with that
    name was made meanwhile."""
    try:
        with transaction.atomic():
            return Board.objects.create(
                workspace=form.workspace,
                name=form.cleaned_data["name"],
                created_by=request.user,
            )
    except IntegrityError:
        form.add_error("name", "The workspace has a board of that name already.")
        return None


@login_required
@require_POST
def add_chosen(request: HtmxHttpRequest) -> HttpResponse:
    """Puts the results ticked in the gallery (`code`) on a board (`board`, or a new one named
    `new_board`): those this member may see."""
    membership = require_spender(request)
    codes = chosen_codes(request.POST.getlist("code"))[:MAX_CHOSEN]
    name = request.POST.get("new_board", "").strip()
    if name:
        form = BoardForm({"name": name}, workspace=membership.workspace)
        if not form.is_valid():
            messages.error(request, _error(form))
            return redirect(safe_next(request, reverse("gallery")))
        board = _new_board(request, form)
        if board is None:
            messages.error(request, _error(form))
            return redirect(safe_next(request, reverse("gallery")))
    else:
        board = (
            Board.objects.for_membership(request.membership)
            .filter(code__in=chosen_codes([request.POST.get("board", "")]))
            .first()
        )
        if board is None:
            messages.error(request, "Choose a board, or name a new one.")
            return redirect(safe_next(request, reverse("gallery")))
    visible = Generation.objects.visible_to(request.user, request.membership).results()
    chosen = visible.filter(code__in=codes)
    if not chosen.exists():
        messages.error(request, "Tick at least one result first.")
        return redirect(safe_next(request, reverse("gallery")))
    added = board.add(chosen, request.user)
    messages.success(request, f"Added {added} result{pluralize(added)} to “{board.name}”.")
    return redirect(safe_next(request, reverse("gallery")))


@login_required
@require_POST
def remove_chosen(request: HtmxHttpRequest, code) -> HttpResponse:
    require_spender(request)
    board = get_board(request, code)
    codes = chosen_codes(request.POST.getlist("code"))[:MAX_CHOSEN]
    visible = Generation.objects.visible_to(request.user, request.membership)
    removed = board.remove(visible.filter(code__in=codes))
    messages.success(request, f"Took {removed} result{pluralize(removed)} off “{board.name}”.")
    return redirect(safe_next(request, board_url(board)))


@login_required
@require_POST
def rename(request: HtmxHttpRequest, code) -> HttpResponse:
    require_spender(request)
    board = get_board(request, code)
    form = BoardForm(request.POST, workspace=board.workspace, board=board)
    if form.is_valid():
        old, board.name = board.name, form.cleaned_data["name"]
        board.save(update_fields=["name"])
        messages.success(request, f"“{old}” is now “{board.name}”.")
    else:
        messages.error(request, _error(form))
    return redirect(board_url(board))


@login_required
@require_POST
def delete(request: HtmxHttpRequest, code) -> HttpResponse:
    """The board goes (and its share links stop working); its results stay in the gallery."""
    require_spender(request)
    board = get_board(request, code)
    with transaction.atomic():
        live = board.share_links.filter(revoked_at=None, expires_at__gt=timezone.now()).count()
        board.delete()
        if live:
            AuditEvent.record(
                board.workspace,
                request.user,
                "share.revoked",
                f"{live} link(s): board “{board.name}” deleted",
            )
    messages.success(
        request, f"Board “{board.name}” deleted; its results are still in the gallery."
    )
    return redirect("boards")


@login_required
@require_POST
def share(request: HtmxHttpRequest, code) -> HttpResponse:
    """A new share link to the board, expiring after the days chosen; in the audit log."""
    require_spender(request)
    board = get_board(request, code)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the link works.")
        return redirect(board_url(board))
    days = form.cleaned_data["days"]
    link = ShareLink.objects.create(
        board=board, created_by=request.user, expires_at=timezone.now() + timedelta(days=days)
    )
    AuditEvent.record(
        board.workspace, request.user, "share.created",
        f"board “{board.name}”, {days} day{pluralize(days)}, link …{link.token[-6:]}",
    )  # fmt: skip
    messages.success(request, f"Share link made: it works for {days} day{pluralize(days)}.")
    return redirect(board_url(board))


@login_required
@require_POST
def revoke(request: HtmxHttpRequest, code, link_id: int) -> HttpResponse:
    require_spender(request)
    board = get_board(request, code)
    revoked = board.share_links.filter(pk=link_id, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    if revoked:
        link = board.share_links.get(pk=link_id)
        AuditEvent.record(
            board.workspace,
            request.user,
            "share.revoked",
            f"board “{board.name}”, link …{link.token[-6:]}",
        )
        messages.success(request, "Share link revoked: it no longer opens.")
    return redirect(board_url(board))


# -- what a share link shows (no account) --------------------------------------------------------


def _open(token: str) -> ShareLink:
    link = ShareLink.open(token)
    if link is None:
        raise Http404("This link has expired or was revoked.")
    return link


@require_GET
def shared_board(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """A board's results for whoever holds a live link: images, players, prompts and models;
    never who made them, what they cost, the workspace or anything else of it."""
    link = ShareLink.open(token)
    if link is None:  # unknown, expired and revoked alike: nothing says which
        gone = TemplateResponse(request, "generations/shared_gone.html", status=404)
        gone["X-Robots-Tag"] = "noindex, nofollow"
        return gone
    results = link.board.shared_results().prefetch_related(
        Prefetch("files", queryset=GenerationFile.objects.order_by("position"))
    )
    context = {"link": link, "board": link.board, "jobs": list(results[:SHARED_SHOWN])}
    response = TemplateResponse(request, "generations/shared.html", context)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    return response


@require_GET
def shared_file(request: HtmxHttpRequest, token: str, code, position: int) -> HttpResponse:
    link = _open(token)
    job = link.board.shared_results().filter(code=code).first()
    result = job.files.filter(position=position).first() if job else None
    if job is None or result is None:
        raise Http404("No such file")
    preview = request.GET.get("preview") == "1" and result.preview
    response = stored_file(
        result.preview if preview else result.file,
        "image/webp" if preview else result.content_type,
        filename=filename_for(job, result),  # as in the zips: date, model, words
        download=request.GET.get("download") == "1",
        byte_range=request.headers.get("Range", ""),
    )
    response["Cache-Control"] = "private, max-age=600"  # not immutable: the link may be revoked
    response["Referrer-Policy"] = "no-referrer"
    return response
