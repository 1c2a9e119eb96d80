"""Starting a job: one workflow across the Generation, the ledger and the task queue."""

from __future__ import annotations

from django.db import transaction

from generations import tasks
from generations.models import Generation, GenerationInput, State
from studio import ledger


def start_job(**fields) -> Generation:
    """Creates a job, takes its hold (raising ledger.BudgetExceeded when it does not fit: then
    nothing is created) and sends it, or parks it for an admin when it costs more than the
    workspace's approval threshold."""
    with transaction.atomic():
        generation = Generation(**fields)
        if generation.needs_approval():
            generation.state = State.AWAITING_APPROVAL
            generation.waiting_note = (
                f"Estimated {generation.estimate} credits, above this workspace's "
                f"{generation.workspace.approval_threshold}: an admin approves it before sending."
            )
        generation.save()
        GenerationInput.record(generation)  # lineage: the gallery results it is made from
        ledger.hold(generation)
        if generation.state == State.QUEUED:
            tasks.enqueue_submit(generation)
        else:
            tasks.enqueue_approval_request(generation)
    return generation


def approve(generation: Generation, by) -> bool:
    with transaction.atomic():
        approved = generation.approve(by)
        if approved:
            tasks.enqueue_submit(generation)
    return approved
