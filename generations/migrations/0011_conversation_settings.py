from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0010_message_claimed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="include_thoughts",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="conversation",
            name="json_output",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="conversation",
            name="reasoning_effort",
            field=models.CharField(default="high", max_length=8),
        ),
        migrations.AddField(
            model_name="conversation",
            name="system_prompt",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="message",
            name="replaced_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="stop_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
