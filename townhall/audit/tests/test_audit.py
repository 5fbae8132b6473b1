"""The audit log: append-only, no personal data in clear, filterable, exportable."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from townhall.audit.actions import Action, PersonalDataInAuditDetails, do_audit, pseudonym
from townhall.audit.models import AuditEntry, AuditLogIsAppendOnly
from townhall.inbox.actions import do_react, do_reply, do_send_choices
from townhall.inbox.models import Label
from townhall.inbox.tests.factories import make_conversation, make_staff, open_around_the_clock
from townhall.whatsapp.models import Message


def member(username: str, role: str) -> User:
    user = User.objects.create_user(username, password="Rathaus-Test-2025", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.django_db
def test_entries_can_be_neither_changed_nor_deleted() -> None:
    entry = do_audit(Action.SETTINGS_CHANGED, details={"fields": ["name"]})

    entry.action = Action.LOGIN
    with pytest.raises(AuditLogIsAppendOnly):
        entry.save()
    with pytest.raises(AuditLogIsAppendOnly):
        entry.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.all().update(action=Action.LOGIN)
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEntry.objects.all().delete()

    assert AuditEntry.objects.get().action == Action.SETTINGS_CHANGED


@pytest.mark.django_db
def test_a_detail_that_looks_like_a_phone_number_is_refused() -> None:
    with pytest.raises(PersonalDataInAuditDetails):
        do_audit(Action.NUMBER_SEARCHED, details={"query": "+49 176 1234567"})

    assert AuditEntry.objects.count() == 0


@pytest.mark.django_db
def test_failed_login_pseudonyms_are_stable_and_never_refused_as_numbers() -> None:
    # A hex digest has seven digits in a row for about one user name in ten; such a
    # pseudonym was refused and the failed login went unaudited.
    names = [f"user{index}" for index in range(2000)]
    for name in names:
        do_audit(Action.LOGIN_FAILED, details={"username_hash": pseudonym(name)})

    assert AuditEntry.objects.count() == len(names)
    assert pseudonym("buero") == pseudonym("buero") != pseudonym("buerO")


@pytest.mark.django_db
def test_a_reply_is_audited_by_conversation_id_without_text_or_number(fake_cloud_api) -> None:
    open_around_the_clock()
    staff = make_staff()
    conversation = make_conversation("Klaus Becker", "Die Laterne ist aus.")

    do_reply(conversation, "Wir kümmern uns darum.", acting_user=staff)

    entry = AuditEntry.objects.get(action=Action.REPLY_SENT)
    assert (entry.actor, entry.target_type, entry.target_id) == (
        staff,
        "conversation",
        str(conversation.pk),
    )
    stored = f"{entry.details} {entry.actor_name} {entry.target_id}"
    assert "kümmern" not in stored
    assert conversation.citizen.wa_id not in stored


@pytest.mark.django_db
def test_choices_and_reactions_from_the_inbox_are_audited_like_replies(fake_cloud_api) -> None:
    open_around_the_clock()
    staff = make_staff()
    conversation = make_conversation("Klaus Becker", "Die Laterne ist aus.")
    citizens_message = Message.objects.get(direction="in", wa_id=conversation.citizen.wa_id)

    choices = do_send_choices(
        conversation, "Passt Dienstag?", ["Ja", "Nein"], as_list=False, acting_user=staff
    )
    reaction = do_react(conversation, citizens_message, "👍", acting_user=staff)

    entries = AuditEntry.objects.filter(action=Action.REPLY_SENT).order_by("pk")
    assert [(e.actor, e.target_id, e.details) for e in entries] == [
        (
            staff,
            str(conversation.pk),
            {"message_id": choices.pk, "choices": 2, "as_list": False},
        ),
        (
            staff,
            str(conversation.pk),
            {"message_id": reaction.pk, "reaction_to": citizens_message.pk, "removed": False},
        ),
    ]


@pytest.mark.django_db
def test_a_number_search_is_audited_with_the_query_masked(client: Client) -> None:
    client.force_login(member("buero", "Büro"))

    client.get(reverse("staff:subscribers"), {"number": "0176 12345604"})

    entry = AuditEntry.objects.get(action=Action.NUMBER_SEARCHED)
    assert entry.details == {"query": "**********04", "results": 0}


@pytest.mark.django_db
def test_the_audit_log_page_filters_and_exports_for_administration_only(client: Client) -> None:
    do_audit(Action.SETTINGS_CHANGED, acting_user=member("verwaltung", "Administration"))
    do_audit(Action.LOGIN, acting_user=member("redaktion", "Redaktion"))
    client.force_login(member("buero", "Büro"))
    assert client.get(reverse("audit:log")).status_code == 403

    client.force_login(User.objects.get(username="verwaltung"))
    page = client.get(reverse("audit:log"), {"actor_name": "redaktion"}).content.decode()
    export = client.get(reverse("audit:export"), {"action": Action.SETTINGS_CHANGED})

    assert page.count('data-testid="audit-entry"') == 1
    assert 'data-action="login"' in page
    rows = b"".join(export.streaming_content).decode("utf-8-sig").strip().splitlines()
    assert rows[0] == "time,user,action,object_type,object_id,details,ip_address"
    assert len(rows) == 2
    assert ",verwaltung,settings_changed," in rows[1]
    assert AuditEntry.objects.filter(action=Action.AUDIT_LOG_EXPORTED).count() == 1


@pytest.mark.django_db
def test_a_role_change_in_the_admin_is_audited(client: Client) -> None:
    administrator = member("verwaltung", "Administration")
    colleague = member("kollegin", "Büro")
    client.force_login(administrator)
    form = (
        client.get(reverse("admin:auth_user_change", args=[colleague.pk])).context["adminform"].form
    )
    data = {
        key: value
        for key, value in form.initial.items()
        if value is not None and key not in {"groups", "user_permissions", "password"}
    }
    data.update(
        {
            "groups": [Group.objects.get(name="Freigabe").pk],
            "date_joined_0": colleague.date_joined.strftime("%d.%m.%Y"),
            "date_joined_1": colleague.date_joined.strftime("%H:%M:%S"),
        }
    )

    response = client.post(reverse("admin:auth_user_change", args=[colleague.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(action=Action.ROLES_CHANGED)
    assert entry.actor == administrator
    assert entry.target_id == str(colleague.pk)
    assert entry.details["roles"] == {"added": ["Freigabe"], "removed": ["Büro"]}


@pytest.mark.django_db
def test_deleting_several_objects_at_once_in_the_admin_audits_each(client: Client) -> None:
    # given: two labels and two accounts no longer needed
    administrator = User.objects.create_superuser("verwaltung", password="Rathaus-Test-2025")
    labels = [Label.objects.create(name=name) for name in ("Straßen", "Parks")]
    leavers = [member(name, "Büro") for name in ("praktikant", "aushilfe")]
    client.force_login(administrator)

    # when: "delete selected" in the admin's lists, confirmed
    for changelist, objects in (
        ("admin:inbox_label_changelist", labels),
        ("admin:auth_user_changelist", leavers),
    ):
        response = client.post(
            reverse(changelist),
            {
                "action": "delete_selected",
                "_selected_action": [obj.pk for obj in objects],
                "post": "yes",
            },
        )
        assert response.status_code == 302

    # then: one audit entry per deleted object, with who deleted it
    label_entries = AuditEntry.objects.filter(target_type="inbox.label")
    assert sorted(e.target_id for e in label_entries) == sorted(str(lb.pk) for lb in labels)
    assert {(e.actor, e.details["change"]) for e in label_entries} == {(administrator, "deleted")}
    account_entries = AuditEntry.objects.filter(action=Action.ROLES_CHANGED)
    assert sorted(e.target_id for e in account_entries) == sorted(str(u.pk) for u in leavers)
    assert not User.objects.filter(pk__in=[u.pk for u in leavers]).exists()


def test_every_admin_page_of_ours_audits_what_it_deletes() -> None:
    from django.contrib import admin

    from townhall.audit.admin_base import AuditedModelAdmin
    from townhall.staff.admin import AuditedGroupAdmin, AuditedUserAdmin

    ours = {
        model: model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in {"citizens", "citysettings", "inbox", "channel", "whatsapp"}
    }
    assert ours
    unaudited = [
        model._meta.label
        for model, model_admin in ours.items()
        if not isinstance(model_admin, AuditedModelAdmin)
    ]
    assert unaudited == []
    assert isinstance(admin.site._registry[User], AuditedUserAdmin)
    assert isinstance(admin.site._registry[Group], AuditedGroupAdmin)
