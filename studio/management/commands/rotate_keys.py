"""Re-encrypts every stored secret with the newest key in STUDIO_ENCRYPTION_KEYS.

Rotating a key: put a new key first in STUDIO_ENCRYPTION_KEYS (keeping the old ones after it),
restart, run `manage.py rotate_keys`, then drop the old keys. Values already encrypted with the
newest key are left alone, so running it twice is harmless. Exits 1, naming the rows, when some
stored value cannot be read with any configured key (the others are still re-encrypted).
"""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError

from studio.secrets import EncryptedTextField, UnreadableSecrets, rotate_field


def encrypted_fields() -> list[tuple[type, EncryptedTextField]]:
    """Every EncryptedTextField of every installed model, each once (not again through proxy
    models or multi-table children, which share their parent's column)."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.local_concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append((model, field))
    return found


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the newest key in STUDIO_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        fields = encrypted_fields()
        if not fields:
            self.stdout.write("No model has an encrypted field; nothing to re-encrypt.")
            return
        problems = []
        for model, field in fields:
            label = f"{model._meta.label}.{field.name}"
            manager = model._base_manager
            stored = (
                manager.exclude(**{f"{field.attname}__isnull": True})
                .exclude(**{field.attname: ""})
                .count()
            )
            try:
                changed = rotate_field(model, field.name)
            except UnreadableSecrets as e:
                changed = e.rotated
                problems.append(str(e))
            self.stdout.write(
                f"{label}: {changed} of {stored} stored value(s) re-encrypted with the newest key."
            )
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(
                f"{len(problems)} field(s) hold values that cannot be read with the keys in "
                "STUDIO_ENCRYPTION_KEYS; see above."
            )
        self.stdout.write(self.style.SUCCESS("Every stored secret uses the newest key."))
