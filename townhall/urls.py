from django.contrib import admin
from django.urls import include, path

from townhall.staff.views_auth import admin_login

urlpatterns = [
    path("webhooks/whatsapp/", include("townhall.whatsapp.urls")),
    # One login for the whole app, with its messages and the second factor.
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("audit/", include("townhall.audit.urls")),
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
