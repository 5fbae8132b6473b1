from django.urls import path

from townhall.citysettings import views

app_name = "citysettings"

urlpatterns = [
    path("", views.index, name="index"),
    path("stadt/", views.city, name="city"),
    path("datenschutz/", views.privacy, name="privacy"),
    path("oeffnungszeiten/", views.office_hours, name="office_hours"),
    path("oeffnungszeiten/schliesstage/", views.closed_day_add, name="closed_day_add"),
    path(
        "oeffnungszeiten/schliesstage/<int:closed_day_id>/entfernen/",
        views.closed_day_remove,
        name="closed_day_remove",
    ),
    path("kanal/", views.channel, name="channel"),
    path("whatsapp/", views.whatsapp, name="whatsapp"),
    path("texte/", views.citizen_texts, name="texts"),
    path("texte/<slug:key>/<str:language>/", views.citizen_text_save, name="text_save"),
]
