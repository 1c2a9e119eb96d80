from __future__ import annotations

from django.db import migrations, models
from django.utils import timezone


def carry_claims(apps, schema_editor):
    """A reply claimed the old way (a mark in `usage`) and not finished stays claimed."""
    Message = apps.get_model("generations", "Message")
    for message in Message.objects.filter(complete=False, usage__isnull=False):
        if isinstance(message.usage, dict) and "claimed_at" in message.usage:
            Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now(), usage=None)


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0009_field_pacing"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(carry_claims, migrations.RunPython.noop),
    ]
