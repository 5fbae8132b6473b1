"""Consent text 2026-12: the citizen confirms being 16 or older (DSGVO Art. 8; in Germany a
child's own consent to an online service counts from 16, younger needs a parent's)."""

from datetime import timedelta

from django.db import migrations

VERSION = "2026-12"

CONSENT_DE = (
    "Ich möchte die gewählten Angebote der Stadt per WhatsApp erhalten. Ich bestätige, dass ich "
    "mindestens 16 Jahre alt bin; wer jünger ist, braucht die Einwilligung eines Elternteils "
    "(Art. 8 DSGVO). Dafür speichert die Stadt meine WhatsApp-Nummer, meinen Profilnamen, meine "
    "Auswahl und meine Nachrichten, bis ich mich abmelde oder die Löschung verlange. Wechsle ich "
    "meine Nummer, zieht mein Abo mit um, sobald WhatsApp es der Stadt meldet. Ich kann diese "
    "Einwilligung jederzeit mit STOP widerrufen (Art. 7 Abs. 3 DSGVO); mit MEINE DATEN erhalte "
    "ich eine Auskunft, mit LÖSCHEN werden meine Daten gelöscht. WhatsApp ist ein Dienst der "
    "Meta Platforms Ireland Ltd."
)
CONSENT_EN = (
    "I want to receive the chosen services of the city via WhatsApp. I confirm that I am 16 or "
    "older; anyone younger needs the consent of a parent (Art. 8 GDPR). For this the city "
    "stores my WhatsApp number, my profile name, my choices and my messages until I unsubscribe "
    "or ask for erasure. If I change my number, my subscription moves with me as soon as "
    "WhatsApp tells the city. I can withdraw this consent at any time with STOP (Art. 7(3) "
    "GDPR); MY DATA sends me my stored data, DELETE erases it. WhatsApp is a service of Meta "
    "Platforms Ireland Ltd."
)


def create_consent_text(apps, schema_editor):
    ConsentText = apps.get_model("citizens", "ConsentText")
    Previous = ConsentText.objects.filter(version="2026-11").first()
    defaults = {"text_de": CONSENT_DE, "text_en": CONSENT_EN, "privacy_url": "/datenschutz/"}
    if Previous is not None:
        # Published after the previous version, whatever the clock says while migrating.
        defaults["published_at"] = max(Previous.published_at + timedelta(seconds=1), _now())
    ConsentText.objects.get_or_create(version=VERSION, defaults=defaults)


def _now():
    from townhall.core import clock

    return clock.now()


def remove_consent_text(apps, schema_editor):
    ConsentText = apps.get_model("citizens", "ConsentText")
    # Only if nobody agreed to it yet: consent records protect the text they point to.
    ConsentText.objects.filter(version=VERSION).delete()


class Migration(migrations.Migration):
    dependencies = [("citizens", "0006_age_and_number_change")]

    operations = [migrations.RunPython(create_consent_text, remove_consent_text)]
