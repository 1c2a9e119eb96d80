"""A trigram index on the prompt, on PostgreSQL only: the gallery's search (`prompt__icontains`
per word, which PostgreSQL runs as `UPPER(prompt::text) LIKE UPPER('%word%')`) reads the index
instead of every row of the workspace. SQLite keeps the plain scan (a `make run` studio)."""

from __future__ import annotations

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS generations_prompt_trgm "
    "ON generations_generation USING gin (UPPER(prompt::text) gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS generations_prompt_trgm"]


def _run(statements):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("generations", "0014_generation_starred")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP), elidable=False)]
