from django.urls import path

from townhall.citizens import views

app_name = "citizens"
urlpatterns = [
    path("buergerservice/", views.subscribe, name="subscribe"),
    # The bot and the consent text link to exactly this path.
    path("datenschutz/", views.privacy, name="privacy"),
    path("einstellungen/<str:token>/", views.preferences, name="preferences"),
    path("einstellungen/<str:token>/loeschen/", views.erase, name="erase"),
    path("meine-daten/<str:token>/", views.export, name="export"),
]
