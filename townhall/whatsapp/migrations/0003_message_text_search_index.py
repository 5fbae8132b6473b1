"""A trigram index on message texts for the inbox search (PostgreSQL only)."""

from django.db import migrations

from townhall.core.search_indexes import create_trigram_index, drop_trigram_index

INDEX_NAME = "whatsapp_message_text_trgm"


def create_index(apps, schema_editor):
    create_trigram_index(schema_editor, table="whatsapp_message", column="text", name=INDEX_NAME)


def drop_index(apps, schema_editor):
    drop_trigram_index(schema_editor, name=INDEX_NAME)


class Migration(migrations.Migration):
    dependencies = [("whatsapp", "0002_message_purpose")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
