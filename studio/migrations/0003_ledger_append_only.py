"""On PostgreSQL the database itself refuses to change or delete a ledger entry."""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION studio_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: add a correcting entry instead';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS studio_ledger_append_only ON studio_ledgerentry;
CREATE TRIGGER studio_ledger_append_only
    BEFORE UPDATE OR DELETE ON studio_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION studio_ledger_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS studio_ledger_append_only ON studio_ledgerentry;
DROP FUNCTION IF EXISTS studio_ledger_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("studio", "0002_workspace_pool_balance_workspace_pool_enabled_budget_and_more")
    ]

    operations = [migrations.RunPython(forwards, backwards)]
