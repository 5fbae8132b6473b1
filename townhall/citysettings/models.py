"""What the city's administrators set on the settings pages (``/konfiguration/``).

One ``CitySettings`` row (pk 1) and one ``CitizenText`` row per changed text and language.
An empty field means "the default": the environment variable / ``settings.py`` value, so a
fresh install behaves exactly as configured by its operator. Reads go through
``config.current()`` (cached); writes through ``actions``.
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

SINGLETON_ID = 1

# The federal states as the holidays library names them (ISO 3166-2:DE without "DE-").
STATES = [
    ("BW", "Baden-Württemberg"),
    ("BY", "Bayern"),
    ("BE", "Berlin"),
    ("BB", "Brandenburg"),
    ("HB", "Bremen"),
    ("HH", "Hamburg"),
    ("HE", "Hessen"),
    ("MV", "Mecklenburg-Vorpommern"),
    ("NI", "Niedersachsen"),
    ("NW", "Nordrhein-Westfalen"),
    ("RP", "Rheinland-Pfalz"),
    ("SL", "Saarland"),
    ("SN", "Sachsen"),
    ("ST", "Sachsen-Anhalt"),
    ("SH", "Schleswig-Holstein"),
    ("TH", "Thüringen"),
]

color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Enter a colour like #0b5cad."))


class CitySettings(models.Model):
    class MessagingLimit(models.TextChoices):
        TIER_250 = "250", "250"
        TIER_2000 = "2000", "2.000"
        TIER_10000 = "10000", "10.000"
        TIER_100000 = "100000", "100.000"
        UNLIMITED = "unlimited", _("unlimited")

    # --- the city -------------------------------------------------------------------------
    city_name = models.CharField(_("city name"), max_length=100, blank=True)
    logo = models.FileField(_("logo"), upload_to="city/", blank=True)
    brand_color = models.CharField(
        _("colour"), max_length=7, blank=True, validators=[color_validator]
    )
    state = models.CharField(_("federal state"), max_length=2, choices=STATES, blank=True)
    observes_holidays = models.BooleanField(_("closed on public holidays"), null=True, blank=True)
    # --- privacy notice -------------------------------------------------------------------
    controller_contact = models.TextField(_("controller (GDPR)"), blank=True)
    dpo_contact = models.TextField(_("data protection officer"), blank=True)
    # --- info channel ---------------------------------------------------------------------
    # "" = the environment's default, "off" = none, else "HH:MM-HH:MM" (city time).
    quiet_hours = models.CharField(_("quiet hours"), max_length=11, blank=True)
    messaging_limit = models.CharField(
        _("messaging limit"), max_length=10, choices=MessagingLimit.choices, blank=True
    )
    send_rate_per_second = models.PositiveIntegerField(
        _("messages per second"), null=True, blank=True
    )
    # --- WhatsApp -------------------------------------------------------------------------
    phone_number_id = models.CharField(_("phone number ID"), max_length=32, blank=True)
    business_account_id = models.CharField(
        _("WhatsApp business account ID"), max_length=32, blank=True
    )
    display_phone_number = models.CharField(_("phone number"), max_length=20, blank=True)
    # Fernet tokens (crypto.py); the clear text is never stored or shown again.
    access_token_encrypted = models.TextField(_("access token (encrypted)"), blank=True)
    access_token_set_at = models.DateTimeField(_("access token set on"), null=True, blank=True)
    app_secret_encrypted = models.TextField(_("app secret (encrypted)"), blank=True)
    app_secret_set_at = models.DateTimeField(_("app secret set on"), null=True, blank=True)
    verify_token_encrypted = models.TextField(_("verify token (encrypted)"), blank=True)
    verify_token_set_at = models.DateTimeField(_("verify token set on"), null=True, blank=True)

    updated_at = models.DateTimeField(_("changed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("city settings")
        verbose_name_plural = _("city settings")
        permissions = [
            # The dashboard and the statistics pages (anonymous numbers only).
            ("view_statistics", _("Can view the dashboard and statistics")),
        ]

    def __str__(self) -> str:
        return str(_("City settings"))


class CitizenText(models.Model):
    """A text citizens receive from the bot or the auto-reply, changed by the city for one
    language. Without a row the translated built-in text is sent (``texts.py``)."""

    key = models.CharField(_("text"), max_length=40)
    language = models.CharField(_("language"), max_length=8)
    text = models.TextField(_("text"))
    updated_at = models.DateTimeField(_("changed on"))

    class Meta:
        verbose_name = _("citizen text")
        verbose_name_plural = _("citizen texts")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "language"], name="one_citizen_text_per_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"
