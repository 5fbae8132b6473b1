import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client
from django.urls import reverse

from townhall.staff.access import access_citizen, access_message_log
from townhall.whatsapp.tests.factories import make_citizen, make_inbound

WA_ID = "4917612345604"
# The permission check comes before the lookup, so the id need not exist.
CITIZEN_ID = 4242


def staff_urls() -> list[str]:
    return [
        reverse("staff:message_log"),
        reverse("staff:citizen_log", args=[CITIZEN_ID]),
        reverse("staff:citizen_history", args=[CITIZEN_ID]),
    ]


@pytest.mark.django_db
def test_root_asks_anonymous_visitors_to_log_in(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('staff:login')}?next=/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "start_page"),
    [
        ("Büro", "staff:dashboard"),
        ("Bürgermeister/in", "staff:dashboard"),
        ("Redaktion", "channel:posts"),
        ("Freigabe", "channel:posts"),
        ("Auswertung", "staff:dashboard"),
        ("Administration", "citysettings:index"),
    ],
)
def test_root_opens_the_first_page_the_role_may_use(
    client: Client, role: str, start_page: str
) -> None:
    user = User.objects.create_user("mitarbeiterin", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse(start_page)


@pytest.mark.django_db
def test_root_tells_a_staff_member_without_a_role_to_ask_for_one(client: Client) -> None:
    client.force_login(User.objects.create_user("neu", is_staff=True))

    response = client.get("/")

    assert response.status_code == 403
    assert "Ihr Konto hat noch keine Rolle" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url_index", [0, 1, 2])
def test_anonymous_users_are_sent_to_the_login_page(client: Client, url_index: int) -> None:
    url = staff_urls()[url_index]

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('staff:login')}?next={url}"


@pytest.mark.django_db
def test_anonymous_htmx_poll_asks_the_browser_to_load_the_login_page(client: Client) -> None:
    page_url = reverse("staff:citizen_log", args=[CITIZEN_ID])

    response = client.get(
        reverse("staff:citizen_history", args=[CITIZEN_ID]),
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page_url}"},
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('staff:login')}?next={page_url}"
    assert response.content == b""


@pytest.mark.django_db
@pytest.mark.parametrize("url_index", [0, 1, 2])
def test_users_without_staff_rights_are_refused(
    client: Client, citizen_user: User, url_index: int
) -> None:
    make_citizen(WA_ID)
    client.force_login(citizen_user)

    response = client.get(staff_urls()[url_index])

    assert response.status_code == 403
    assert "Zugriff verweigert" in response.content.decode()


@pytest.mark.django_db
def test_unknown_citizen_is_not_found(staff_client: Client) -> None:
    response = staff_client.get(reverse("staff:citizen_log", args=[999999]))

    assert response.status_code == 404
    assert "Seite nicht gefunden" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("url_index", [0, 1, 2])
def test_staff_pages_are_never_cached_by_the_browser(staff_client: Client, url_index: int) -> None:
    citizen = make_citizen(WA_ID)
    make_inbound(citizen)
    urls = [
        reverse("staff:message_log"),
        reverse("staff:citizen_log", args=[citizen.pk]),
        reverse("staff:citizen_history", args=[citizen.pk]),
    ]

    response = staff_client.get(urls[url_index])

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_access_message_log_allows_active_staff_only(staff_user: User) -> None:
    access_message_log(staff_user)

    with pytest.raises(PermissionDenied):
        access_message_log(AnonymousUser())

    staff_user.is_active = False
    with pytest.raises(PermissionDenied):
        access_message_log(staff_user)


@pytest.mark.django_db
def test_access_citizen_returns_the_citizen_for_staff(staff_user: User) -> None:
    citizen = make_citizen(WA_ID)
    make_inbound(citizen)

    assert access_citizen(staff_user, citizen.pk) == citizen
    with pytest.raises(Http404):
        access_citizen(staff_user, citizen.pk + 1)


@pytest.mark.django_db
def test_access_citizen_refuses_before_revealing_whether_a_number_exists(
    citizen_user: User,
) -> None:
    citizen = make_citizen(WA_ID)

    with pytest.raises(PermissionDenied):
        access_citizen(citizen_user, citizen.pk)
    with pytest.raises(PermissionDenied):
        access_citizen(citizen_user, citizen.pk + 1)
