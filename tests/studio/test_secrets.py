from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.forms import modelform_factory

from studio import secrets
from studio.secrets import EncryptedTextField, RedactSecrets, SecretError
from studio.settings import env_fernet_keys

PLAIN = "aio_live_0123456789abcdefWXYZ"
OLD = Fernet.generate_key().decode()
NEW = Fernet.generate_key().decode()


def body(token: str) -> bytes:
    assert token.startswith(secrets.PREFIX)
    return token[len(secrets.PREFIX) :].encode()


@pytest.fixture
def old_key(settings) -> None:
    settings.STUDIO_ENCRYPTION_KEYS = [OLD]


def test_it_round_trips(old_key) -> None:
    token = secrets.encrypt(PLAIN)
    assert token.startswith("fernet:")
    assert secrets.is_token(token)
    assert secrets.decrypt(token) == PLAIN
    assert secrets.decrypt(secrets.encrypt("")) == ""
    assert secrets.decrypt(secrets.encrypt("ключ ✓")) == "ключ ✓"


def test_it_never_puts_the_plain_value_in_the_token(old_key) -> None:
    token = secrets.encrypt(PLAIN)
    assert PLAIN not in token
    assert "0123456789" not in token
    assert secrets.encrypt(PLAIN) != token  # every encryption differs


def test_it_decrypts_with_a_rotated_list(settings, old_key) -> None:
    token = secrets.encrypt(PLAIN)
    settings.STUDIO_ENCRYPTION_KEYS = [NEW, OLD]
    assert secrets.decrypt(token) == PLAIN
    # New values use the newest key.
    assert Fernet(NEW).decrypt(body(secrets.encrypt(PLAIN))).decode() == PLAIN


def test_it_rotates_to_the_newest_key_only(settings, old_key) -> None:
    token = secrets.encrypt(PLAIN)
    settings.STUDIO_ENCRYPTION_KEYS = [NEW, OLD]
    rotated = secrets.rotate(token)
    assert rotated != token
    assert Fernet(NEW).decrypt(body(rotated)).decode() == PLAIN
    with pytest.raises(InvalidToken):
        Fernet(OLD).decrypt(body(rotated))
    settings.STUDIO_ENCRYPTION_KEYS = [NEW]
    assert secrets.decrypt(rotated) == PLAIN


def test_it_refuses_a_token_from_an_unknown_key(settings, old_key) -> None:
    token = secrets.encrypt(PLAIN)
    settings.STUDIO_ENCRYPTION_KEYS = [NEW]
    for attempt in (secrets.decrypt, secrets.rotate):
        with pytest.raises(SecretError) as caught:
            attempt(token)
        message = str(caught.value)
        assert "cannot be read with the keys configured in STUDIO_ENCRYPTION_KEYS" in message
        assert token not in message
        assert body(token).decode()[:20] not in message
        assert PLAIN not in message
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__


def test_it_refuses_a_value_that_is_not_a_token(old_key) -> None:
    for value in (PLAIN, "fernet:not a token", "fernet:" + PLAIN):
        assert not secrets.is_token(value)
        with pytest.raises(SecretError) as caught:
            secrets.decrypt(value)
        assert PLAIN not in str(caught.value)


def test_it_rejects_a_malformed_key_list_naming_the_position(monkeypatch) -> None:
    bad = "not-a-fernet-key-but-secret-text"
    monkeypatch.setenv("STUDIO_ENCRYPTION_KEYS", f"{NEW}, {bad}, {OLD}")
    with pytest.raises(ImproperlyConfigured) as caught:
        env_fernet_keys("STUDIO_ENCRYPTION_KEYS", "some secret")
    message = str(caught.value)
    assert "STUDIO_ENCRYPTION_KEYS" in message
    assert "position 2" in message
    assert bad not in message
    assert NEW not in message
    assert OLD not in message


def test_it_stops_start_up_on_a_malformed_key() -> None:
    bad = "not-a-fernet-key-but-secret-text"
    env = {**os.environ, "STUDIO_ENCRYPTION_KEYS": f"{NEW},{bad}", "SECRET_KEY": "x" * 50}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "STUDIO_ENCRYPTION_KEYS" in result.stderr
    assert "position 2" in result.stderr
    assert bad not in result.stderr + result.stdout


def test_it_reads_the_key_list_newest_first(monkeypatch) -> None:
    monkeypatch.setenv("STUDIO_ENCRYPTION_KEYS", f" {NEW} ,{OLD},")
    assert env_fernet_keys("STUDIO_ENCRYPTION_KEYS", "some secret") == [NEW, OLD]


def test_it_derives_one_key_from_the_secret_key_when_unset(monkeypatch, settings) -> None:
    monkeypatch.delenv("STUDIO_ENCRYPTION_KEYS", raising=False)
    derived = env_fernet_keys("STUDIO_ENCRYPTION_KEYS", "some secret")
    assert len(derived) == 1
    Fernet(derived[0])  # a valid key
    assert derived == env_fernet_keys("STUDIO_ENCRYPTION_KEYS", "some secret")
    assert derived != env_fernet_keys("STUDIO_ENCRYPTION_KEYS", "another secret")
    assert "some secret" not in derived[0]
    # The test run itself uses one (from tests/pytest_env.py's SECRET_KEY).
    assert len(settings.STUDIO_ENCRYPTION_KEYS) >= 1
    assert secrets.decrypt(secrets.encrypt(PLAIN)) == PLAIN


def test_it_names_the_position_of_a_bad_key_in_overridden_settings(settings) -> None:
    settings.STUDIO_ENCRYPTION_KEYS = [NEW, "secret-but-not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="position 2") as caught:
        secrets.encrypt(PLAIN)
    assert "secret-but-not-a-key" not in str(caught.value)


def test_it_shows_only_the_last_four_characters() -> None:
    assert secrets.last4("aio_live_0123456789abcd") == "…abcd"
    assert secrets.last4("") == ""
    assert secrets.last4("aio_short") == "…"


def record_log(message: str, *args, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger(f"tests.secrets.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        if exc is None:
            logger.warning(message, *args)
        else:
            try:
                raise exc
            except type(exc):
                logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_it_redacts_keys_in_log_messages_and_args() -> None:
    in_message = record_log("calling upstream with aio_secret123456 now")
    assert "aio_secret123456" not in in_message
    assert "secret123456" not in in_message
    assert "calling upstream with aio_…redacted now" in in_message

    in_args = record_log("key=%s for %s (%d tries)", "aio_secret123456", "team", 3)
    assert "aio_secret123456" not in in_args
    assert "key=aio_…redacted for team (3 tries)" in in_args

    in_dict = record_log("key=%(key)s", {"key": "Bearer aio_secret123456"})
    assert "aio_secret123456" not in in_dict
    assert "key=Bearer aio_…redacted" in in_dict

    in_object = record_log("headers %r", {"Authorization": "Bearer aio_secret123456"})
    assert "aio_secret123456" not in in_object

    in_traceback = record_log("failed", exc=RuntimeError("rejected key aio_secret123456"))
    assert "aio_secret123456" not in in_traceback
    assert "RuntimeError: rejected key aio_…redacted" in in_traceback

    untouched = record_log("aio_short and %s", "aio_")
    assert "aio_short and aio_" in untouched


def test_it_keeps_the_field_out_of_forms_and_migrations() -> None:
    field = EncryptedTextField(blank=True)
    assert field.editable is False
    _name, path, _args, kwargs = field.deconstruct()
    assert path == "studio.secrets.EncryptedTextField"
    assert kwargs == {"blank": True}
    editable = EncryptedTextField(blank=True, editable=True)
    assert editable.deconstruct()[3] == {"blank": True, "editable": True}
    assert 'type="password"' in str(editable.formfield().widget.render("k", PLAIN))
    assert PLAIN not in str(editable.formfield().widget.render("k", PLAIN))


# --- on a real table ------------------------------------------------------------------------


@pytest.fixture
def vault():
    """A model with an EncryptedTextField, made for the test and registered with the app
    registry (so rotate_keys finds it), its table created and dropped around the test."""
    name = f"Vault{uuid.uuid4().hex[:8]}"
    meta = type("Meta", (), {"app_label": "studio", "db_table": f"test_{name.lower()}"})
    model = type(
        name,
        (models.Model,),
        {
            "__module__": __name__,
            "Meta": meta,
            "label": models.CharField(max_length=20, default=""),
            "secret": EncryptedTextField(blank=True, null=True),
            "__str__": lambda self: self.label,
        },
    )
    with connection.schema_editor() as editor:
        editor.create_model(model)
    try:
        yield model
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(model)
        del apps.all_models["studio"][name.lower()]
        apps.clear_cache()


def raw_secret(model, pk) -> str | None:
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name("secret")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_it_stores_only_a_token_in_the_column(vault, old_key) -> None:
    row = vault.objects.create(label="team", secret=PLAIN)
    assert row.secret == PLAIN
    stored = raw_secret(vault, row.pk)
    assert secrets.is_token(stored)
    assert PLAIN not in stored
    assert Fernet(OLD).decrypt(body(stored)).decode() == PLAIN
    assert vault.objects.get(pk=row.pk).secret == PLAIN
    assert vault.objects.values_list("secret", flat=True).get(pk=row.pk) == PLAIN

    # Saving again leaves a token (never a token of a token, never the plain value).
    row.label = "team 2"
    row.save()
    assert secrets.decrypt(raw_secret(vault, row.pk)) == PLAIN

    # So does an update through a QuerySet.
    vault.objects.filter(pk=row.pk).update(secret=PLAIN + "x")
    assert secrets.decrypt(raw_secret(vault, row.pk)) == PLAIN + "x"

    # Empty stays empty; None stays None.
    empty = vault.objects.create(label="empty", secret="")
    nothing = vault.objects.create(label="none", secret=None)
    assert raw_secret(vault, empty.pk) == ""
    assert raw_secret(vault, nothing.pk) is None
    assert vault.objects.get(pk=empty.pk).secret == ""
    assert vault.objects.get(pk=nothing.pk).secret is None
    assert list(vault.objects.filter(secret="").values_list("label", flat=True)) == ["empty"]

    # Nothing that shows an instance shows the key.
    assert PLAIN not in repr(row)
    assert PLAIN not in str(row)
    assert "secret" not in modelform_factory(vault, fields="__all__").base_fields
    from django.core import serializers

    dumped = serializers.serialize("json", [row])
    assert PLAIN not in dumped
    loaded = next(serializers.deserialize("json", dumped)).object
    assert loaded.secret == PLAIN


@pytest.mark.django_db(transaction=True)
def test_it_rotate_keys_re_encrypts_with_the_new_key(vault, settings, old_key) -> None:
    rows = [vault.objects.create(label=f"r{i}", secret=f"{PLAIN}{i}") for i in range(3)]
    vault.objects.create(label="empty", secret="")
    settings.STUDIO_ENCRYPTION_KEYS = [NEW, OLD]

    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert f"studio.{vault.__name__}.secret: 3 of 3 stored value(s) re-encrypted" in out.getvalue()

    for i, row in enumerate(rows):
        stored = raw_secret(vault, row.pk)
        assert f"{PLAIN}{i}" not in stored
        assert Fernet(NEW).decrypt(body(stored)).decode() == f"{PLAIN}{i}"
        with pytest.raises(InvalidToken):
            Fernet(OLD).decrypt(body(stored))
    assert raw_secret(vault, vault.objects.get(label="empty").pk) == ""

    # Twice is harmless: nothing left to change.
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert f"studio.{vault.__name__}.secret: 0 of 3 stored value(s)" in out.getvalue()

    # The old key may now go.
    settings.STUDIO_ENCRYPTION_KEYS = [NEW]
    assert [r.secret for r in vault.objects.order_by("pk") if r.secret] == [
        f"{PLAIN}{i}" for i in range(3)
    ]
    assert secrets.rotate_field(vault, "secret") == 0


@pytest.mark.django_db(transaction=True)
def test_it_rotate_keys_fails_on_values_no_key_reads(vault, settings, old_key) -> None:
    lost = vault.objects.create(label="lost", secret=PLAIN)
    lost_token = raw_secret(vault, lost.pk)
    settings.STUDIO_ENCRYPTION_KEYS = [NEW]
    kept = vault.objects.create(label="kept", secret="aio_kept_0123456789")
    settings.STUDIO_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), NEW]

    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="cannot be read with the keys"):
        call_command("rotate_keys", stdout=out, stderr=err)
    report = out.getvalue() + err.getvalue()
    assert f"primary keys {lost.pk})" in report
    assert "1 of 2 stored value(s) re-encrypted" in report
    assert PLAIN not in report
    assert lost_token not in report
    assert raw_secret(vault, lost.pk) == lost_token  # left as it was
    assert vault.objects.get(pk=kept.pk).secret == "aio_kept_0123456789"
