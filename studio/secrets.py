"""Secrets at rest: each workspace's API in One key, encrypted with keys from the environment.

`settings.STUDIO_ENCRYPTION_KEYS` is a list of Fernet keys, newest first (see settings.py). New
values are encrypted with the newest; every key in the list can decrypt, so a key is rotated by
putting a new one in front, running `manage.py rotate_keys` (which re-encrypts every stored value
with the newest key) and then dropping the old one. The setting is read at every call, never at
import, so tests may override it.

A stored value is `fernet:` followed by a Fernet token. `EncryptedTextField` stores that and
hands Python code the plain string; the database column never holds the plain key.

Where the plain key must never show, and what keeps it out:
- pages, fragments and the admin: `EncryptedTextField` is not editable by default, so ModelForms
  and the admin leave it out. Never name it in an admin's `fields`, `readonly_fields`,
  `list_display` or `search_fields`, nor give it `editable=True` on a model with an admin
  (if you do, exclude it there: `exclude = ["api_key"]`). Show `last4(key)` instead.
- `repr()`/`str()` of a model instance: Django's repr is `<Model: str(obj)>`; keep the field out
  of the model's `__str__`.
- serialisation (`dumpdata`): the field serialises as the encrypted token.
- logs: install `RedactSecrets` on the log handlers; it rewrites anything that looks like an
  API in One key (`aio_…`) in a record's message, arguments and traceback.
- error reports: the functions here are `sensitive_variables`, so Django's error reports hide
  their local variables; `SecretError` never includes a token or a plain value.

The field cannot be searched: every encryption of one value differs, so `filter(api_key=...)`
matches nothing, except `filter(api_key="")` (no key stored), which works.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import ExpressionWrapper, F
from django.views.decorators.debug import sensitive_variables

__all__ = [
    "PREFIX",
    "EncryptedTextField",
    "RedactSecrets",
    "SecretError",
    "UnreadableSecrets",
    "decrypt",
    "encrypt",
    "is_token",
    "last4",
    "redact",
    "rotate",
    "rotate_field",
]

PREFIX = "fernet:"
# A Fernet token: version byte 0x80, timestamp (8), IV (16), at least one AES block (16), HMAC (32).
_MIN_TOKEN_BYTES = 1 + 8 + 16 + 16 + 32
_SETTING = "STUDIO_ENCRYPTION_KEYS"
_TOKEN_BODY = re.compile(r"[A-Za-z0-9_\-]+=*")


class SecretError(Exception):
    """A stored secret cannot be read. The message never holds the token or the plain value."""


class UnreadableSecrets(SecretError):
    """Some values of a field could not be re-encrypted because no configured key reads them."""

    def __init__(self, message: str, *, rotated: int, unreadable: list) -> None:
        super().__init__(message)
        self.rotated = rotated
        self.unreadable = unreadable


# --- keys -------------------------------------------------------------------------------------


def _configured_keys() -> tuple[str, ...]:
    raw = getattr(settings, _SETTING, None)
    if isinstance(raw, (str, bytes)):
        raw = raw.decode() if isinstance(raw, bytes) else raw
        raw = raw.split(",")
    keys = tuple(
        (key.decode() if isinstance(key, bytes) else str(key)).strip() for key in raw or ()
    )
    keys = tuple(key for key in keys if key)
    if not keys:
        raise ImproperlyConfigured(f"{_SETTING} must hold at least one Fernet key.")
    return keys


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, ...]:
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):  # never echo the key itself
            raise ImproperlyConfigured(
                f"{_SETTING} must be a list of Fernet keys, but the key in position {position} "
                "is not one."
            ) from None
    return tuple(fernets)


def _keys() -> tuple[Fernet, ...]:
    """Every configured key as a Fernet, newest first."""
    return _fernets(_configured_keys())


def _multi() -> MultiFernet:
    return MultiFernet(list(_keys()))


# --- values -----------------------------------------------------------------------------------


def is_token(value: object) -> bool:
    """Whether `value` is a stored (encrypted) value, as `encrypt` makes them."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return False
    body = value[len(PREFIX) :]
    if not _TOKEN_BODY.fullmatch(body):
        return False
    try:
        data = base64.urlsafe_b64decode(body.encode("ascii"))
    except (binascii.Error, ValueError):
        return False
    return len(data) >= _MIN_TOKEN_BYTES and data[0] == 0x80


def _body(token: str) -> bytes:
    if not is_token(token):
        raise SecretError(
            "The stored secret is not an encrypted value, so it cannot be read with the keys "
            f"configured in {_SETTING}."
        )
    return token[len(PREFIX) :].encode("ascii")


def _unreadable() -> SecretError:
    return SecretError(
        f"The stored secret cannot be read with the keys configured in {_SETTING}; it was "
        "encrypted with a key that is no longer in the list."
    )


@sensitive_variables()
def encrypt(plain: str) -> str:
    """`plain`, encrypted with the newest configured key, as `fernet:<token>`."""
    if not isinstance(plain, str):
        raise TypeError("encrypt() takes a str.")
    return PREFIX + _multi().encrypt(plain.encode("utf-8")).decode("ascii")


@sensitive_variables()
def decrypt(token: str) -> str:
    """The plain value of a stored token; tries every configured key. Raises SecretError."""
    body = _body(token)
    try:
        return _multi().decrypt(body).decode("utf-8")
    except (InvalidToken, UnicodeDecodeError):
        raise _unreadable() from None


@sensitive_variables()
def rotate(token: str) -> str:
    """The same value, re-encrypted with the newest configured key. Raises SecretError."""
    body = _body(token)
    try:
        return PREFIX + _multi().rotate(body).decode("ascii")
    except InvalidToken:
        raise _unreadable() from None


@sensitive_variables()
def _is_current(token: str) -> bool:
    """Whether `token` is already encrypted with the newest configured key."""
    try:
        _keys()[0].decrypt(_body(token))
    except (InvalidToken, SecretError):
        return False
    return True


@sensitive_variables()
def last4(plain: str) -> str:
    """What a page may show of a key: "…" and its last four characters ("" for no key; just
    "…" for a value too short to give away a quarter of)."""
    if not plain:
        return ""
    if len(plain) < 12:
        return "…"
    return "…" + plain[-4:]


# --- the model field --------------------------------------------------------------------------


class EncryptedTextField(models.TextField):
    """Stores `fernet:<token>` in the column and gives Python code the plain string.

    None and "" are stored as they are (no secret). The field is not editable unless asked
    (`editable=True`), so ModelForms and the admin leave it out; see the module docstring.
    """

    description = "Text encrypted with STUDIO_ENCRYPTION_KEYS"

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        # Not editable is this field's default: say so only when it is editable.
        if self.editable:
            kwargs["editable"] = True
        else:
            kwargs.pop("editable", None)
        return name, path, args, kwargs

    @sensitive_variables()
    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    @sensitive_variables()
    def to_python(self, value):
        # A token reaches here when loading a fixture made by dumpdata (see value_to_string).
        if is_token(value):
            return decrypt(value)
        return super().to_python(value)

    @sensitive_variables()
    def get_prep_value(self, value):
        # Not TextField.get_prep_value: it calls to_python, which would decrypt a token.
        value = models.Field.get_prep_value(self, value)  # resolves lazy strings
        if value is None or value == "" or is_token(value):
            return value
        return encrypt(str(value))

    @sensitive_variables()
    def value_to_string(self, obj) -> str:
        """Serialised (dumpdata), the value stays encrypted."""
        value = self.value_from_object(obj)
        if value is None or value == "":
            return value
        return value if is_token(value) else encrypt(str(value))

    def formfield(self, **kwargs):
        # Only reached with editable=True: a password input, which never renders the value.
        from django import forms

        defaults = {"widget": forms.PasswordInput(render_value=False)}
        defaults.update(kwargs)
        return super().formfield(**defaults)


def _label(model, field) -> str:
    return f"{model._meta.label}.{field.name}"


@sensitive_variables()
def rotate_field(model, field_name: str) -> int:
    """Re-encrypt every stored value of `model.field_name` with the newest configured key, one
    `QuerySet.update` per row, and return how many rows changed. Values already encrypted with
    the newest key are left alone, so running it twice is harmless (the second run changes
    none). If some values cannot be read with any configured key, the rest are still rotated
    and then UnreadableSecrets (a SecretError) says which rows, and how many were rotated."""
    field = model._meta.get_field(field_name)
    if not isinstance(field, EncryptedTextField):
        raise TypeError(f"{_label(model, field)} is not an EncryptedTextField.")
    manager = model._base_manager
    column = field.attname
    # Read the stored tokens as plain text, without the field's decryption.
    stored = (
        manager.annotate(_stored=ExpressionWrapper(F(column), output_field=models.TextField()))
        .values_list("pk", "_stored")
        .order_by("pk")
    )
    changed = 0
    unreadable = []
    for pk, token in list(stored):
        if not token or _is_current(token):
            continue
        try:
            new_token = rotate(token)
        except SecretError:
            unreadable.append(pk)
            continue
        # Only if the row still holds what was read (a concurrent save wins).
        changed += manager.filter(pk=pk, **{column: token}).update(**{column: new_token})
    if unreadable:
        shown = ", ".join(str(pk) for pk in unreadable[:20])
        more = f" and {len(unreadable) - 20} more" if len(unreadable) > 20 else ""
        raise UnreadableSecrets(
            f"{len(unreadable)} stored value(s) of {_label(model, field)} (primary keys "
            f"{shown}{more}) cannot be read with the keys configured in {_SETTING}; put back "
            "the key they were encrypted with (after the newest) and run rotate_keys again.",
            rotated=changed,
            unreadable=unreadable,
        )
    return changed


# --- logs -------------------------------------------------------------------------------------

_KEY_PATTERN = re.compile(r"aio_[A-Za-z0-9_\-]{8,}")
REDACTED = "aio_…redacted"


def redact(text: str) -> str:
    """`text` with anything that looks like an API in One key replaced by "aio_…redacted"."""
    return _KEY_PATTERN.sub(REDACTED, text)


class RedactSecrets(logging.Filter):
    """A log filter that keeps API in One keys out of log lines.

    Install it on handlers (filters on a handler see records from every logger that reaches
    it). It rewrites the record itself, so later handlers see the redacted record too: the
    message and its %-arguments (the message is formatted and redacted as a whole when an
    argument holds a key), and the text of any traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format: redact the parts; logging reports the rest
            if isinstance(record.msg, str):
                record.msg = redact(record.msg)
            record.args = _redact_args(record.args)
        else:
            if _KEY_PATTERN.search(message):
                record.msg = redact(message)
                record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redact_args(args):
    if isinstance(args, tuple):
        return tuple(redact(a) if isinstance(a, str) else a for a in args)
    if isinstance(args, dict):
        return {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
    return args
