"""A trigram index on citizens' profile names for the inbox search (PostgreSQL only)."""

from django.db import migrations

from townhall.core.search_indexes import create_trigram_index, drop_trigram_index

INDEX_NAME = "citizens_citizen_name_trgm"


def create_index(apps, schema_editor):
    create_trigram_index(
        schema_editor, table="citizens_citizen", column="profile_name", name=INDEX_NAME
    )


def drop_index(apps, schema_editor):
    drop_trigram_index(schema_editor, name=INDEX_NAME)


class Migration(migrations.Migration):
    dependencies = [("citizens", "0003_default_topics_and_consent_text")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
