"""The page frame's logo and colour: public, for staff and citizens' pages alike."""

from django.urls import path

from townhall.citysettings import views

urlpatterns = [
    path("logo/", views.logo, name="city_logo"),
    path("farben.css", views.theme, name="city_theme"),
]
