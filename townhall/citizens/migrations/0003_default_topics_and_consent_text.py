from django.db import migrations

TOPICS = [
    ("dringend", "Dringende Meldungen", "Urgent alerts",
     "Unwetter, Evakuierungen, Trinkwasser: sofort", "Storms, evacuations, drinking water: at once"),
    ("verkehr", "Verkehr & Baustellen", "Traffic & roadworks",
     "Sperrungen, Umleitungen, Baustellen", "Closures, diversions, roadworks"),
    ("veranstaltungen", "Veranstaltungen", "Events",
     "Feste, Märkte, Kultur und Sport", "Festivals, markets, culture and sport"),
    ("stadt", "Neues aus der Stadt", "City news",
     "Ratsbeschlüsse, Projekte, Bürgerservice", "Council decisions, projects, services"),
]

CONSENT_DE = (
    "Ich möchte die gewählten Angebote der Stadt per WhatsApp erhalten. Dafür speichert die "
    "Stadt meine WhatsApp-Nummer, meinen Profilnamen, meine Auswahl und meine Nachrichten, bis "
    "ich mich abmelde oder die Löschung verlange. Ich kann diese Einwilligung jederzeit mit STOP "
    "widerrufen (Art. 7 Abs. 3 DSGVO); mit MEINE DATEN erhalte ich eine Auskunft, mit LÖSCHEN "
    "werden meine Daten gelöscht. WhatsApp ist ein Dienst der Meta Platforms Ireland Ltd."
)
CONSENT_EN = (
    "I want to receive the chosen services of the city via WhatsApp. For this the city stores my "
    "WhatsApp number, my profile name, my choices and my messages until I unsubscribe or ask for "
    "erasure. I can withdraw this consent at any time with STOP (Art. 7(3) GDPR); MY DATA sends me "
    "my stored data, DELETE erases it. WhatsApp is a service of Meta Platforms Ireland Ltd."
)


def create_defaults(apps, schema_editor):
    Topic = apps.get_model("citizens", "Topic")
    ConsentText = apps.get_model("citizens", "ConsentText")
    for position, (slug, name_de, name_en, description_de, description_en) in enumerate(TOPICS):
        Topic.objects.get_or_create(
            slug=slug,
            defaults={
                "name_de": name_de,
                "name_en": name_en,
                "description_de": description_de,
                "description_en": description_en,
                "position": position,
            },
        )
    ConsentText.objects.get_or_create(
        version="2026-11",
        defaults={"text_de": CONSENT_DE, "text_en": CONSENT_EN, "privacy_url": "/datenschutz/"},
    )


class Migration(migrations.Migration):
    dependencies = [("citizens", "0002_subscriptions_and_consent")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
