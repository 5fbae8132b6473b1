from django.contrib.auth import views as auth_views
from django.urls import path

from townhall.staff import views, views_auth, views_dashboard, views_subscribers, views_templates

app_name = "staff"
urlpatterns = [
    path("", views_dashboard.home, name="home"),
    path("dashboard/", views_dashboard.dashboard_view, name="dashboard"),
    path("login/", views_auth.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/code/", views_auth.two_factor_verify, name="two_factor_verify"),
    path("konto/zwei-faktor/", views_auth.two_factor_setup, name="two_factor_setup"),
    path("passwort-vergessen/", views_auth.PasswordResetView.as_view(), name="password_reset"),
    path(
        "passwort-vergessen/gesendet/",
        auth_views.PasswordResetDoneView.as_view(template_name="staff/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "passwort-neu/<uidb64>/<token>/",
        views_auth.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "passwort-neu/fertig/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="staff/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("messages/", views.message_log, name="message_log"),
    path("messages/<int:citizen_id>/", views.citizen_log, name="citizen_log"),
    path("messages/<int:citizen_id>/history/", views.citizen_history, name="citizen_history"),
    path(
        "messages/<int:citizen_id>/<int:message_id>/retry/",
        views.retry_inbound_message,
        name="retry_inbound_message",
    ),
    path("subscribers/", views_subscribers.subscriber_overview, name="subscribers"),
    path("subscribers/<int:citizen_id>/", views_subscribers.subscriber_detail, name="subscriber"),
    path(
        "subscribers/<int:citizen_id>/export/",
        views_subscribers.subscriber_export,
        name="subscriber_export",
    ),
    path(
        "subscribers/<int:citizen_id>/revoke-links/",
        views_subscribers.subscriber_revoke_links,
        name="subscriber_revoke_links",
    ),
    path(
        "subscribers/<int:citizen_id>/erase/",
        views_subscribers.subscriber_erase,
        name="subscriber_erase",
    ),
    path("vorlagen/", views_templates.template_list, name="templates"),
    path("vorlagen/neu/", views_templates.template_new, name="template_new"),
    path("vorlagen/pruefen/", views_templates.template_check, name="template_check"),
    path("vorlagen/abgleichen/", views_templates.template_sync, name="template_sync"),
    path("vorlagen/<int:template_id>/", views_templates.template_detail, name="template_detail"),
    path(
        "vorlagen/<int:template_id>/einreichen/",
        views_templates.template_submit,
        name="template_submit",
    ),
]
