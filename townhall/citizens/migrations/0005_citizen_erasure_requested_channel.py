"""Remember where a citizen asked for erasure, for the record the erasure writes."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("citizens", "0004_citizen_name_search_index")]

    operations = [
        migrations.AddField(
            model_name="citizen",
            name="erasure_requested_channel",
            field=models.CharField(
                blank=True,
                choices=[
                    ("whatsapp_keyword", "WhatsApp keyword"),
                    ("whatsapp_button", "WhatsApp button"),
                    ("web_form", "Web form"),
                    ("staff", "Staff on request"),
                ],
                default="",
                max_length=20,
            ),
        ),
    ]
