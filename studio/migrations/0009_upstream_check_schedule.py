from __future__ import annotations

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="studio.ledger_check_upstream",
        defaults={
            "func": "studio.audit.nightly",
            "schedule_type": "D",  # daily
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="studio.ledger_check_upstream"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0008_upstream_check"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
