"""URLs of the inbox metrics page, included by the project's ``urls.py`` under
``inbox/metrics/``."""

from django.urls import path

from townhall.inbox import views_metrics

app_name = "inbox_metrics"
urlpatterns = [
    path("", views_metrics.metrics_overview, name="overview"),
]
