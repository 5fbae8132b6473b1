"""The roles of townhall.staff.roles as groups with their rights (editable in the admin)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from townhall.staff.roles import ensure_roles

    ensure_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0001_initial"),
        ("citizens", "0006_permission_view_subscriber_statistics"),
        ("inbox", "0004_permissions_use_inbox_view_metrics"),
        ("whatsapp", "0010_permissions_message_log"),
        ("channel", "0003_merge_fan_out_and_rate_card"),
        ("otp_totp", "0003_add_timestamps"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
