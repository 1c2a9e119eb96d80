"""Audits of the credit ledger: that it agrees with itself (`problems`), and that it agrees with
what API in One charged (`check_upstream`). `manage.py ledger_check` runs both; a nightly
schedule runs the upstream check, and the Credits page shows what the last one found."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from studio import ledger
from studio.models import LedgerEntry, UpstreamCheck, UsageDay, Workspace

logger = logging.getLogger(__name__)
Kind = LedgerEntry.Kind


# -- the ledger against itself -----------------------------------------------------------------


def problems(workspace: Workspace | None = None) -> list[str]:
    """Every way the ledger disagrees with itself; empty when it is sound."""
    from generations.models import ENDED_STATES, Generation, Message

    found = []
    workspaces = [workspace] if workspace else Workspace.objects.all()
    for ws in workspaces:
        ws.refresh_from_db(fields=["pool_balance"])
        total = ledger.exact(ws.ledger.aggregate(total=Sum("amount"))["total"])
        if total != ledger.exact(ws.pool_balance):
            found.append(f"{ws}: balance {ws.pool_balance} but entries sum to {total}")
        jobs = ledger.exact(
            ws.ledger.filter(kind__in=ledger.JOB_KINDS).aggregate(t=Sum("amount"))["t"]
        )
        rolled = ledger.exact(
            UsageDay.objects.filter(workspace=ws).aggregate(t=Sum("credits"))["t"]
        )
        if rolled != -jobs:
            found.append(f"{ws}: daily usage sums to {rolled} but job entries to {-jobs}")
    generations = Generation.objects.all()
    if workspace:
        generations = generations.filter(workspace=workspace)
    for generation in generations.prefetch_related("ledger"):
        kinds = [e.kind for e in generation.ledger.all()]
        holds = kinds.count(Kind.HOLD)
        resolutions = kinds.count(Kind.SETTLE) + kinds.count(Kind.RELEASE)
        if holds != 1:
            found.append(f"job {generation.code}: {holds} holds")
        if resolutions > 1:
            found.append(f"job {generation.code}: {resolutions} resolutions")
        if (
            generation.state in ENDED_STATES
            and not generation.billing_open
            and resolutions == 0
            and holds == 1
        ):
            found.append(f"job {generation.code} ended ({generation.state}) but is unresolved")
    messages = Message.objects.filter(ledger__isnull=False).distinct()
    if workspace:
        messages = messages.filter(conversation__workspace=workspace)
    for message in messages.prefetch_related("ledger"):
        kinds = [e.kind for e in message.ledger.all()]
        resolutions = kinds.count(Kind.SETTLE) + kinds.count(Kind.RELEASE)
        if kinds.count(Kind.HOLD) != 1 or resolutions > 1:
            found.append(f"chat reply {message.pk}: {kinds}")
        if message.complete and resolutions == 0:
            found.append(f"chat reply {message.pk} is complete but unresolved")
    return found


# -- the ledger against the upstream -----------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """A job whose charge in the studio differs from what API in One reports it charged."""

    workspace_id: int
    code: str
    model_slug: str
    studio: Decimal
    upstream: Decimal

    def as_dict(self) -> dict:
        return {
            "workspace_id": self.workspace_id,
            "code": self.code,
            "model": self.model_slug,
            "studio": str(self.studio),
            "upstream": str(self.upstream),
        }


def check_upstream(days: int = 7, limit: int = 2000, *, deadline: float = 600.0) -> UpstreamCheck:
    """Looks up, through each key's rate limiter, the jobs that ended in the last `days` days (at
    most `limit`, newest first) and records every one whose charge in the ledger differs from
    the upstream's `consumed_credits` (a task the upstream failed charged nothing, unless it
    says otherwise). Jobs the upstream could not be asked about are counted, not guessed."""
    import time

    from generations import client, upstream
    from generations.models import ENDED_STATES, Generation

    started = time.monotonic()
    since = timezone.now() - timedelta(days=days)
    jobs = (
        Generation.objects.filter(
            state__in=ENDED_STATES,
            billing_open=False,
            upstream_task_id__isnull=False,
            finished_at__gte=since,
        )
        .select_related("workspace")
        .annotate(charged=Sum("ledger__amount"))
        .order_by("-finished_at")[:limit]
    )
    checked = unanswered = unstated = 0
    drifts: list[Drift] = []
    for generation in jobs:
        if time.monotonic() - started > deadline:
            break
        try:
            task = client.get_task(
                upstream.studio_account(None, generation.workspace), generation.upstream_task_id
            )
        except client.UpstreamError as e:
            logger.info("ledger check: %s could not be looked up: %s", generation.code, e.message)
            unanswered += 1
            continue
        if not task.finished:
            continue
        checked += 1
        charged = task.consumed_credits
        if charged is None:
            if task.state != client.SUCCEEDED:
                charged = Decimal(0)  # the upstream charges successes only
            else:
                unstated += 1
                continue
        studio = -ledger.exact(generation.charged)
        if studio != ledger.exact(charged):
            drifts.append(
                Drift(
                    generation.workspace_id,
                    str(generation.code),
                    generation.model_slug,
                    studio,
                    ledger.exact(charged),
                )
            )
    return UpstreamCheck.objects.create(
        days=days,
        checked=checked,
        unanswered=unanswered,
        unstated=unstated,
        drift=[d.as_dict() for d in drifts],
    )


def drift_summary(check: UpstreamCheck, workspace_id: int | None = None) -> list[tuple]:
    """(workspace id, model, jobs, studio total, upstream total) per workspace and model."""
    jobs: Counter = Counter()
    studio: dict = {}
    theirs: dict = {}
    for item in check.drift:
        if workspace_id is not None and item["workspace_id"] != workspace_id:
            continue
        key = (item["workspace_id"], item["model"])
        jobs[key] += 1
        studio[key] = studio.get(key, Decimal(0)) + Decimal(item["studio"])
        theirs[key] = theirs.get(key, Decimal(0)) + Decimal(item["upstream"])
    return [(*key, jobs[key], studio[key], theirs[key]) for key in sorted(jobs)]


def nightly() -> None:
    """The scheduled upstream check (django-q2 Schedule "studio.ledger_check_upstream")."""
    check_upstream(days=2)
