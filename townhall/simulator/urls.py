"""Root URLconf of the simulator process: browser phone, control API (``/_sim/``), Graph API.

Every route lives in the ``simulator`` namespace (a root URLconf's ``app_name`` alone does
not create one, so the patterns are included under it explicitly).
"""

from django.urls import include, path, re_path

from townhall.simulator import views

app_name = "simulator"

control_patterns = [
    path("_sim/health", views.control_health, name="control_health"),
    path("_sim/citizens", views.control_citizens, name="control_citizens"),
    path("_sim/citizens/<str:wa_id>/send", views.control_citizen_send, name="control_citizen_send"),
    path(
        "_sim/citizens/<str:wa_id>/change-number",
        views.control_citizen_change_number,
        name="control_citizen_change_number",
    ),
    path(
        "_sim/citizens/<str:wa_id>/messages",
        views.control_citizen_messages,
        name="control_citizen_messages",
    ),
    path("_sim/citizens/<str:wa_id>/read", views.control_citizen_read, name="control_citizen_read"),
    path("_sim/personas", views.control_personas, name="control_personas"),
    path("_sim/personas/load", views.control_personas_load, name="control_personas_load"),
    path("_sim/templates", views.control_templates, name="control_templates"),
    path(
        "_sim/templates/<str:template_id>/status",
        views.control_template_status,
        name="control_template_status",
    ),
    path("_sim/stats", views.control_stats, name="control_stats"),
    path("_sim/config", views.control_config, name="control_config"),
    path("_sim/reset", views.control_reset, name="control_reset"),
    path("_sim/flush", views.control_flush, name="control_flush"),
    path("_sim/webhooks/redeliver", views.control_redeliver, name="control_redeliver"),
]

phone_patterns = [
    path("", views.index, name="index"),
    path("citizens/new/", views.create_citizen, name="create_citizen"),
    path("phones/", views.phones, name="phones"),
    path("phone/<str:wa_id>/", views.phone, name="phone"),
    path("phone/<str:wa_id>/thread/", views.phone_thread, name="phone_thread"),
    path("phone/<str:wa_id>/send/", views.phone_send, name="phone_send"),
    path("phone/<str:wa_id>/reply/", views.phone_reply, name="phone_reply"),
    path("phone/<str:wa_id>/react/", views.phone_react, name="phone_react"),
    path("phone-media/<str:media_id>/", views.phone_media, name="phone_media"),
    path("static/<path:path>", views.static_file, name="static"),
]

# Graph API last: its patterns are broad (``/{version}/{object_id}``).
graph_patterns = [
    path("_media/<str:media_id>", views.media_download, name="media_download"),
    re_path(
        r"^(?P<version>[^/_][^/]*)/(?P<phone_number_id>[^/]+)/messages$",
        views.graph_messages,
        name="graph_messages",
    ),
    re_path(
        r"^(?P<version>[^/_][^/]*)/(?P<waba_id>[^/]+)/message_templates$",
        views.graph_message_templates,
        name="graph_message_templates",
    ),
    re_path(
        r"^(?P<version>[^/_][^/]*)/(?P<phone_number_id>[^/]+)/media$",
        views.graph_media_upload,
        name="graph_media_upload",
    ),
    re_path(r"^(?P<version>v[^/]*)/(?P<media_id>[^/]+)$", views.graph_media, name="graph_media"),
]

urlpatterns = [
    path("", include((control_patterns + phone_patterns + graph_patterns, app_name))),
]
