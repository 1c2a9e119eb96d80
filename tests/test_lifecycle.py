"""One lifecycle: TRANSITIONS is the diagram, and every move of a job's state is a method of
Generation that makes one of its moves (no code elsewhere writes `state`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from generations.models import ACTIVE_STATES, STATUS_SENTENCES, TRANSITIONS, Generation, State

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = [ROOT / "generations", ROOT / "studio"]


def _writes_of_state(path: Path) -> list[int]:
    """Lines where the code in `path` writes a job's state in bulk: `.update(state=…)`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr in ("update", "update_or_create", "bulk_update") and any(
            keyword.arg == "state" for keyword in node.keywords
        ):
            lines.append(node.lineno)
    return lines


def test_no_code_outside_the_models_moves_a_state() -> None:
    found = {}
    for folder in PRODUCT:
        for path in folder.rglob("*.py"):
            if path.name == "models.py" or "migrations" in path.parts or "sandbox" in path.parts:
                continue
            lines = _writes_of_state(path)
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}, f"state written outside generations/models.py: {found}"


def test_the_fence_sees_a_raw_move(tmp_path) -> None:
    # The check above would catch one (it is not a test that cannot fail).
    sample = tmp_path / "raw_move.py"
    sample.write_text(
        "def f(qs):\n    return qs.filter(state='queued').update(\n        state='running'\n    )\n"
    )
    assert _writes_of_state(sample) == [2]


def test_every_transition_is_a_method_and_every_state_is_reached() -> None:
    reached = {State.AWAITING_APPROVAL, State.QUEUED}  # where a job starts (approval or not)
    for name, (sources, target) in TRANSITIONS.items():
        assert callable(getattr(Generation, name, None)), name
        assert set(sources) <= set(ACTIVE_STATES), name  # nothing leaves an ended state
        reached.add(target)
    assert reached == set(State)
    # Every state a job can leave has a move out (an active job is never stuck by design).
    leaving = {state for sources, _ in TRANSITIONS.values() for state in sources}
    assert leaving == set(ACTIVE_STATES)


@pytest.mark.django_db
def test_a_move_from_a_state_it_does_not_leave_changes_nothing(alice) -> None:
    workspace = alice.memberships.get().workspace
    job = Generation.objects.create(
        workspace=workspace, user=alice, model_slug="flux-2", kind="image",
        params={"prompt": "x"}, estimate=5, token="x", state=State.SUCCEEDED,
    )  # fmt: skip
    assert not job.mark_sent("IN_PROGRESS", upstream_task_id="t")
    assert not job.requeue("again")
    assert not job.mark_unconfirmed("lost", None)
    assert not job.adopt("t2")
    assert not Generation.claim_for_submit(job.pk)
    job.refresh_from_db()
    assert (job.state, job.upstream_task_id) == (State.SUCCEEDED, None)


@pytest.mark.django_db
def test_the_card_says_a_sentence_for_every_state_in_motion(alice) -> None:
    workspace = alice.memberships.get().workspace
    for state in ACTIVE_STATES:
        job = Generation(workspace=workspace, model_slug="flux-2", state=state)
        sentence = job.status_sentence
        assert sentence
        assert sentence == STATUS_SENTENCES.get(state, sentence)
    assert Generation(model_slug="flux-2", state=State.RUNNING).status_sentence.startswith(
        "Running: usually"
    )


def _form_classes(path: Path) -> list[str]:
    """Classes in `path` that are Django forms (a base named Form or ModelForm)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(base).split(".")[-1] in ("Form", "ModelForm") for base in node.bases)
    ]


def test_forms_live_in_forms_modules_not_in_views(tmp_path) -> None:
    found = {}
    for folder in PRODUCT:
        for path in (folder / "views").rglob("*.py"):
            if classes := _form_classes(path):
                found[str(path.relative_to(ROOT))] = classes
    assert found == {}, f"forms defined in views: {found}"
    sample = tmp_path / "view.py"
    sample.write_text("from django import forms\nclass F(forms.Form):\n    pass\n")
    assert _form_classes(sample) == ["F"]
