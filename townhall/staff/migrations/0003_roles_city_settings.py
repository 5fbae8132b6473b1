"""The roles' rights on the city settings and statistics (townhall.citysettings), which
0002 could not grant before that app's tables existed."""

from django.db import migrations


def grant_city_settings_rights(apps, schema_editor):
    from townhall.staff.roles import ensure_roles

    ensure_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0002_roles"),
        ("citysettings", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant_city_settings_rights, migrations.RunPython.noop)]
