"""Who may follow a workspace's live events: members by session, its API tokens."""

from __future__ import annotations

from pagedesk.core.actions import do_revoke_api_token
from tests.live.conftest import Member, data_of, emit_many
from tests.live.sse_client import SSEClient


def test_a_member_never_receives_another_workspaces_events(
    pagedesk_server: str, acme: Member, globex: Member
) -> None:
    with (
        SSEClient(pagedesk_server, workspace=acme.workspace.pk, cookie=acme.session_cookie()) as a,
        SSEClient(pagedesk_server, token=globex.token) as b,
    ):
        emit_many(globex.workspace, 3, kind="note.created")
        emit_many(acme.workspace, 2)
        emit_many(globex.workspace, 1, kind="note.created")
        assert [e.event for e in a.events(2)] == ["message.created"] * 2
        assert a.no_event_within(0.4)
        assert [e.event for e in b.events(4)] == ["note.created"] * 4


def test_session_cookie_of_a_signed_in_member(pagedesk_server: str, acme: Member) -> None:
    cookie = acme.session_cookie()
    with SSEClient(pagedesk_server, workspace=acme.workspace.pk, cookie=cookie) as stream:
        assert stream.status == 200
        emit_many(acme.workspace, 1)
        assert data_of(stream.events(1)) == ['{"message_id":0}']


def test_no_credentials_is_401(pagedesk_server: str, acme: Member) -> None:
    with SSEClient(pagedesk_server, workspace=acme.workspace.pk) as stream:
        assert stream.status == 401
        assert stream.headers["www-authenticate"].startswith("Bearer")
    with SSEClient(pagedesk_server, workspace=acme.workspace.pk, cookie="sessionid=nope") as s:
        assert s.status == 401


def test_a_non_member_is_403(pagedesk_server: str, acme: Member, globex: Member) -> None:
    cookie = acme.session_cookie()
    with SSEClient(pagedesk_server, workspace=globex.workspace.pk, cookie=cookie) as stream:
        assert stream.status == 403
        assert b"not a member" in stream.body


def test_a_token_follows_its_own_workspace_only(
    pagedesk_server: str, acme: Member, globex: Member
) -> None:
    with SSEClient(pagedesk_server, workspace=globex.workspace.pk, token=acme.token) as stream:
        assert stream.status == 403
    with SSEClient(pagedesk_server, workspace=acme.workspace.pk, token=acme.token) as stream:
        assert stream.status == 200
    do_revoke_api_token(prefix=acme.token)
    with SSEClient(pagedesk_server, token=acme.token) as stream:
        assert stream.status == 401
    with SSEClient(pagedesk_server, token="pdk_not-a-token") as stream:
        assert stream.status == 401


def test_malformed_requests(pagedesk_server: str, acme: Member) -> None:
    cookie = acme.session_cookie()
    with SSEClient(pagedesk_server, cookie=cookie) as stream:  # which workspace?
        assert stream.status == 400
    with SSEClient(pagedesk_server, token=acme.token, last_event_id="abc") as stream:
        assert stream.status == 400
    with SSEClient(pagedesk_server, token=acme.token, method="POST") as stream:
        assert stream.status == 405
