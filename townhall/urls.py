from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("webhooks/whatsapp/", include("townhall.whatsapp.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("townhall.citizens.urls")),
    path("", include("townhall.channel.public_urls")),
    path("inbox/metrics/", include("townhall.inbox.urls_metrics")),
    path("inbox/", include("townhall.inbox.urls")),
    path("kanal/", include("townhall.channel.urls")),
    path("konfiguration/", include("townhall.citysettings.urls")),
    path("stadt/", include("townhall.citysettings.public_urls")),
    path("", include("townhall.staff.urls")),
]
