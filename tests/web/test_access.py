"""Who may do what: signing in, roles, CSRF, login throttling."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from pagedesk.core.models import Membership
from pagedesk.inbox.models import Conversation, Label
from tests.web.conftest import PASSWORD, Side, client_for, make_member

# --- signing in ------------------------------------------------------------------


def test_anonymous_people_are_sent_to_sign_in(db: None) -> None:
    client = Client()
    for url in ("/inbox/", "/inbox/c/1/", "/inbox/attachments/1/", "/account/password/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/sign-in/?next="), url
    assert client.post("/inbox/c/1/status/", {"status": "done"}).status_code == 302


def test_sign_in_with_email_lands_in_the_inbox(acme: Side) -> None:
    client = Client()
    response = client.post(
        "/sign-in/", {"email": acme.agent.email.upper(), "password": PASSWORD, "next": "/inbox/"}
    )
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert "Ada of Acme" in client.get("/inbox/").content.decode()


def test_wrong_password_says_so(acme: Side) -> None:
    response = Client().post("/sign-in/", {"email": acme.agent.email, "password": "nope"})
    assert response.status_code == 200
    assert "That email and password do not match." in response.content.decode()


def test_next_may_not_leave_the_site(acme: Side) -> None:
    response = Client().post(
        "/sign-in/",
        {"email": acme.agent.email, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/inbox/"


def test_sign_out_is_a_post(acme: Side) -> None:
    client = client_for(acme.agent)
    assert client.get("/sign-out/").status_code == 405
    assert client.post("/sign-out/").status_code == 302
    assert client.get("/inbox/").status_code == 302


def test_password_change(acme: Side) -> None:
    client = client_for(acme.agent)
    response = client.post(
        "/account/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a much newer passphrase",
            "new_password2": "a much newer passphrase",
        },
    )
    assert response.status_code == 302
    acme.agent.refresh_from_db()
    assert acme.agent.check_password("a much newer passphrase")
    assert client.get("/inbox/").status_code == 200  # still signed in


def test_people_without_a_workspace_get_the_no_workspace_page(db: None) -> None:
    loner = get_user_model().objects.create_user("loner@example.com", "loner@example.com", "x")
    client = client_for(loner)
    response = client.get("/inbox/", follow=True)
    assert response.redirect_chain[-1][0] == "/no-workspace/"
    assert "You are not in a workspace yet" in response.content.decode()


# --- roles -------------------------------------------------------------------------


def test_an_agent_may_take_a_conversation_but_not_give_it_to_someone(acme: Side) -> None:
    colleague = make_member(acme.workspace, "colleague@acme.test")
    client = client_for(acme.agent)
    url = f"/inbox/c/{acme.conversation.pk}/assign/"
    assert client.post(url, {"assignee": colleague.pk}).status_code == 403
    assert Conversation.objects.get(pk=acme.conversation.pk).assignee is None
    assert client.post(url, {"assignee": "me"}).status_code == 302
    assert Conversation.objects.get(pk=acme.conversation.pk).assignee == acme.agent
    assert client.post(url, {"assignee": ""}).status_code == 302
    assert Conversation.objects.get(pk=acme.conversation.pk).assignee is None


def test_owners_and_admins_assign_anyone(acme: Side) -> None:
    admin = make_member(acme.workspace, "admin@acme.test", Membership.Role.ADMIN)
    url = f"/inbox/c/{acme.conversation.pk}/assign/"
    assert client_for(admin).post(url, {"assignee": acme.agent.pk}).status_code == 302
    assert Conversation.objects.get(pk=acme.conversation.pk).assignee == acme.agent
    client_for(acme.owner).post(url, {"assignee": admin.pk, "team": acme.team.pk})
    fresh = Conversation.objects.get(pk=acme.conversation.pk)
    assert fresh.assignee == admin and fresh.team == acme.team


def test_only_owners_and_admins_create_labels(acme: Side) -> None:
    url = f"/inbox/c/{acme.conversation.pk}/labels/"
    agent = client_for(acme.agent)
    assert agent.post(url, {"new_label": "refund"}).status_code == 403
    assert not Label.objects.filter(name="refund").exists()
    assert agent.post(url, {"labels": [acme.label.pk]}).status_code == 302  # existing: fine
    assert agent.post(url, {"new_label": acme.label.name}).status_code == 302  # by name too
    assert list(acme.conversation.labels.all()) == [acme.label]
    owner = client_for(acme.owner)
    owner.post(url, {"labels": [acme.label.pk], "new_label": "refund"})
    assert sorted(acme.conversation.labels.values_list("name", flat=True)) == [
        "Acme-vip",
        "refund",
    ]


def test_the_webhook_log_is_for_staff(acme: Side) -> None:
    assert client_for(acme.owner).get("/events/").status_code == 302  # to the admin sign-in
    acme.owner.is_staff = True
    acme.owner.save()
    assert client_for(acme.owner).get("/events/").status_code == 200


# --- CSRF --------------------------------------------------------------------------


def test_every_form_needs_the_csrf_token(acme: Side) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme.owner)
    base = f"/inbox/c/{acme.conversation.pk}"
    posts = [
        (f"{base}/compose/", {"text": "a note", "note": "on"}),
        (f"{base}/assign/", {"assignee": "me"}),
        (f"{base}/labels/", {"labels": [acme.label.pk]}),
        (f"{base}/status/", {"status": "done"}),
        ("/account/language/", {"language": "de"}),
        ("/workspace/switch/", {"workspace": acme.workspace.pk}),
        ("/sign-out/", {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    fresh = Conversation.objects.get(pk=acme.conversation.pk)
    assert fresh.status == "open" and fresh.assignee is None and not fresh.notes.exists()

    # With the token from a page (as htmx sends it, in the X-CSRFToken header) it works.
    client.get("/inbox/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"{base}/status/",
        {"status": "done"},
        headers={"X-CSRFToken": token, "HX-Request": "true", "HX-Target": "pane"},
    )
    assert response.status_code == 200
    assert Conversation.objects.get(pk=acme.conversation.pk).status == "done"


def test_sign_in_needs_the_csrf_token(acme: Side) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/sign-in/", {"email": acme.agent.email, "password": PASSWORD})
    assert response.status_code == 403


# --- login throttling ------------------------------------------------------------------


def test_the_sixth_attempt_after_five_failures_is_locked(acme: Side) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(4):
        response = client.post("/sign-in/", {"email": acme.agent.email, "password": "wrong"})
        assert response.status_code == 200
    fifth = client.post("/sign-in/", {"email": acme.agent.email, "password": "wrong"})
    assert fifth.status_code == 429
    sixth = client.post("/sign-in/", {"email": acme.agent.email, "password": PASSWORD})
    assert sixth.status_code == 429
    page = sixth.content.decode()
    assert "Too many failed sign-in attempts" in page and "15 minutes" in page
    assert client.get("/inbox/").status_code == 302  # not signed in

    # Per username and address: the same person from elsewhere, and others from here, may.
    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    ok = elsewhere.post("/sign-in/", {"email": acme.agent.email, "password": PASSWORD})
    assert ok.status_code == 302
    other = client.post("/sign-in/", {"email": acme.owner.email, "password": PASSWORD})
    assert other.status_code == 302


def test_a_success_before_the_limit_resets_the_count(acme: Side) -> None:
    client = Client()
    for _ in range(4):
        client.post("/sign-in/", {"email": acme.agent.email, "password": "wrong"})
    assert (
        client.post("/sign-in/", {"email": acme.agent.email, "password": PASSWORD}).status_code
        == 302
    )
    client.post("/sign-out/")
    for _ in range(4):
        assert (
            client.post("/sign-in/", {"email": acme.agent.email, "password": "wrong"}).status_code
            == 200
        )
