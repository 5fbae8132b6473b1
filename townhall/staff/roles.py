"""The roles of a city hall's staff and the rights each one holds.

Roles are Django groups: a data migration creates them with these rights, and the admin
(role Administration) may change them later; ``ensure_roles`` never takes a right away
that an admin added. docs/permissions.md lists which page each role may open; the test
``staff/tests/test_permissions_table.py`` holds the pages to that table.
"""

from __future__ import annotations

from typing import Any

ADMINISTRATION = "Administration"
MAYOR = "Bürgermeister/in"
OFFICE = "Büro"
EDITORS = "Redaktion"
APPROVAL = "Freigabe"
ANALYSIS = "Auswertung"


ALL_ACTIONS = ("add", "change", "delete", "view")


def _model_rights(
    app_label: str, *models: str, actions: tuple[str, ...] = ALL_ACTIONS
) -> list[str]:
    return [f"{app_label}.{action}_{model}" for model in models for action in actions]


ROLES: dict[str, list[str]] = {
    # Users, roles and the settings kept in the admin; reads the audit log.
    ADMINISTRATION: [
        *_model_rights("auth", "user", "group"),
        "auth.view_permission",
        *_model_rights("staff", "rolepolicy", actions=("add", "change", "view")),
        *_model_rights("otp_totp", "totpdevice", actions=("delete", "view")),
        *_model_rights("axes", "accessattempt", actions=("delete", "view")),
        *_model_rights("citizens", "topic"),
        *_model_rights("citizens", "consenttext", actions=("add", "change", "view")),
        *_model_rights("inbox", "team", "label", "cannedresponse", "weeklyhours", "closedday"),
        *_model_rights("channel", "messageprice"),
        "citysettings.change_citysettings",
        "citysettings.view_citysettings",
        "audit.view_auditentry",
    ],
    # Everything in chat and channel: answers, drafts, approves, sends urgent alerts;
    # reads the statistics and the audit log.
    MAYOR: [
        "citysettings.view_statistics",
        "inbox.use_inbox",
        "inbox.view_metrics",
        "whatsapp.view_message_log",
        "whatsapp.retry_inbound_message",
        "whatsapp.view_messagetemplate",
        "whatsapp.manage_templates",
        "citizens.view_subscriber_statistics",
        "citizens.view_citizen",
        "citizens.search_by_number",
        "citizens.export_citizen_data",
        "citizens.erase_citizen",
        "channel.view_post",
        "channel.add_post",
        "channel.change_post",
        "channel.approve_post",
        "channel.send_urgent",
        "channel.view_messageprice",
        "audit.view_auditentry",
    ],
    # The inbox: answers citizens, handles their data requests (export, erasure).
    OFFICE: [
        "citysettings.view_statistics",
        "inbox.use_inbox",
        "inbox.view_metrics",
        "whatsapp.view_message_log",
        "whatsapp.retry_inbound_message",
        "whatsapp.view_messagetemplate",
        "citizens.view_subscriber_statistics",
        "citizens.view_citizen",
        "citizens.search_by_number",
        "citizens.export_citizen_data",
        "citizens.erase_citizen",
    ],
    # Drafts posts of the info channel and writes message templates.
    EDITORS: [
        "channel.view_post",
        "channel.add_post",
        "channel.change_post",
        "channel.view_messageprice",
        "whatsapp.view_messagetemplate",
        "whatsapp.manage_templates",
    ],
    # Approves (or returns) submitted posts: the second pair of eyes.
    APPROVAL: [
        "channel.view_post",
        "channel.approve_post",
        "channel.view_messageprice",
        "whatsapp.view_messagetemplate",
    ],
    # Read-only statistics: subscriber numbers, inbox metrics, posts and their delivery.
    ANALYSIS: [
        "citysettings.view_statistics",
        "citizens.view_subscriber_statistics",
        "inbox.view_metrics",
        "channel.view_post",
    ],
}


def ensure_roles(apps: Any) -> None:
    """Create the roles and grant their rights (``apps``: the app registry, historical in a
    migration). Idempotent; rights an admin added stay. The permission rows are created
    first: Django only creates them after all migrations ran. Rights of apps the registry
    does not hold yet are left for a later migration that depends on them."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Historical app configs have no models module; create_permissions needs one.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module

    installed = {app_config.label for app_config in apps.get_app_configs()}
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    policy_model = apps.get_model("staff", "RolePolicy")
    for name, rights in ROLES.items():
        group, _created = group_model.objects.get_or_create(name=name)
        policy_model.objects.get_or_create(group=group)
        wanted = {
            (app_label, codename)
            for app_label, codename in (right.split(".", 1) for right in rights)
            if app_label in installed
        }
        permissions = [
            permission
            for permission in permission_model.objects.filter(
                codename__in={codename for _app, codename in wanted}
            ).select_related("content_type")
            if (permission.content_type.app_label, permission.codename) in wanted
        ]
        missing = wanted - {(p.content_type.app_label, p.codename) for p in permissions}
        if missing:
            raise LookupError(f"role {name!r}: unknown permissions {sorted(missing)}")
        group.permissions.add(*permissions)
