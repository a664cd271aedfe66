"""The operator subcommands of `pagedesk`: workspaces, channels, API tokens, events.

Every test runs the real command in-process (`pagedesk.cli.main`) against the test
database and checks the exit code and what reached stdout and stderr.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pagedesk.cli import main
from pagedesk.core.actions import (
    authenticate_api_token,
    do_add_channel,
    do_create_api_token,
    do_create_workspace,
)
from pagedesk.core.models import ApiToken, Channel, Membership, RawWebhook, Workspace
from pagedesk.inbox.models import InboundEvent

PAGE_TOKEN = "EAAG-page-token-SECRET-111"
APP_SECRET = "app-secret-SECRET-222"
VERIFY_TOKEN = "verify-token-SECRET-333"
NEW_PAGE_TOKEN = "EAAG-rotated-token-SECRET-444"
NEW_APP_SECRET = "rotated-app-secret-SECRET-555"
SECRETS = (PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN, NEW_PAGE_TOKEN, NEW_APP_SECRET)
PAGE_ID = "1029384756"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def assert_no_secrets(self) -> None:
        for secret in SECRETS:
            assert secret not in self.out
            assert secret not in self.err


Run = Callable[..., Result]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run `pagedesk ARGS...`; usage errors from argparse count as exit code 2."""

    def run_command(*argv: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run_command


@pytest.fixture(autouse=True)
def no_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAGEDESK_PAGE_TOKEN", "PAGEDESK_APP_SECRET", "PAGEDESK_VERIFY_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def workspace(db: None) -> Workspace:
    return do_create_workspace(name="Acme Bikes", owner_email="owner@acme.test")


@pytest.fixture
def channel(workspace: Workspace) -> Channel:
    return do_add_channel(
        workspace=workspace,
        page_id=PAGE_ID,
        page_token=PAGE_TOKEN,
        app_secret=APP_SECRET,
        verify_token=VERIFY_TOKEN,
        name="Acme Page",
        username="acmebikes",
    )


def add_args(*extra: str, page_id: str = PAGE_ID, workspace: str = "acme-bikes") -> list[str]:
    return [
        "channel",
        "add",
        "--workspace",
        workspace,
        "--page-id",
        page_id,
        *extra,
    ]


def secret_args(
    page_token: str = PAGE_TOKEN, app_secret: str = APP_SECRET, verify_token: str = VERIFY_TOKEN
) -> list[str]:
    return ["--page-token", page_token, "--app-secret", app_secret, "--verify-token", verify_token]


# --- workspace ----------------------------------------------------------------------


@pytest.mark.django_db
def test_workspace_create_prints_slug_and_id(run: Run) -> None:
    result = run("workspace", "create", "Acme Bikes", "--owner-email", "Owner@Acme.test")
    assert result.code == 0, result.err
    workspace = Workspace.objects.get()
    assert workspace.slug == "acme-bikes"
    assert "acme-bikes" in result.out
    assert f"id {workspace.pk}" in result.out
    owner = Membership.objects.get(workspace=workspace)
    assert owner.role == Membership.Role.OWNER
    assert owner.user.email == "owner@acme.test"


@pytest.mark.django_db
def test_workspace_create_rejects_a_bad_email(run: Run) -> None:
    result = run("workspace", "create", "Acme", "--owner-email", "not-an-email")
    assert result.code == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "not an email address" in result.err
    assert not Workspace.objects.exists()


@pytest.mark.django_db
def test_workspace_create_needs_an_owner(run: Run) -> None:
    result = run("workspace", "create", "Acme")
    assert result.code == 2
    assert "--owner-email" in result.err


@pytest.mark.django_db
def test_workspace_list(run: Run, channel: Channel) -> None:
    do_create_workspace(name="Zebra Shop", owner_email="z@zebra.test")
    result = run("workspace", "list")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["id", "slug", "name", "channels", "members", "created"]
    assert "acme-bikes" in lines[1]
    assert lines[1].split()[4:6] == ["1", "1"]  # one channel, one member
    assert "zebra-shop" in lines[2]


@pytest.mark.django_db
def test_workspace_list_when_empty(run: Run) -> None:
    result = run("workspace", "list")
    assert result.code == 0
    assert "No workspaces yet" in result.out


# --- channel add --------------------------------------------------------------------


@pytest.mark.django_db
def test_channel_add_stores_the_credentials(run: Run, workspace: Workspace) -> None:
    result = run(*add_args(*secret_args(), "--name", "Acme Page", "--username", "acmebikes"))
    assert result.code == 0, result.err
    result.assert_no_secrets()
    channel = Channel.objects.get(page_id=PAGE_ID)
    assert (channel.workspace, channel.name, channel.username) == (
        workspace,
        "Acme Page",
        "acmebikes",
    )
    assert channel.kind == Channel.Kind.FACEBOOK
    assert (channel.page_access_token, channel.app_secret) == (PAGE_TOKEN, APP_SECRET)
    assert channel.verify_token == VERIFY_TOKEN
    assert f"channel {channel.pk}" in result.out


@pytest.mark.django_db
def test_channel_add_instagram_kind(run: Run, workspace: Workspace) -> None:
    result = run(*add_args(*secret_args(), "--kind", "instagram"))
    assert result.code == 0, result.err
    assert Channel.objects.get().kind == Channel.Kind.INSTAGRAM


@pytest.mark.django_db
def test_channel_add_rejects_an_unknown_kind(run: Run, workspace: Workspace) -> None:
    result = run(*add_args(*secret_args(), "--kind", "whatsapp"))
    assert result.code == 2
    result.assert_no_secrets()


@pytest.mark.django_db
def test_channel_add_duplicate_page_id(run: Run, channel: Channel) -> None:
    result = run(*add_args(*secret_args(NEW_PAGE_TOKEN, NEW_APP_SECRET)))
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"pagedesk: Page {PAGE_ID} is already connected.\n"
    result.assert_no_secrets()
    assert Channel.objects.get().page_access_token == PAGE_TOKEN


@pytest.mark.django_db
def test_channel_add_unknown_workspace(run: Run, workspace: Workspace) -> None:
    result = run(*add_args(*secret_args(), workspace="nope"))
    assert result.code == 1
    assert "No workspace 'nope'" in result.err
    assert result.err.count("\n") == 1
    result.assert_no_secrets()
    assert not Channel.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("page_id", "secrets", "message"),
    [
        ("not-digits", secret_args(), "must be digits"),
        (PAGE_ID, secret_args(page_token="EAA"), "page token looks too short"),
        (PAGE_ID, secret_args(app_secret="short"), "app secret looks too short"),
        (PAGE_ID, secret_args(verify_token="short"), "verify token of 8 characters"),
    ],
)
def test_channel_add_invalid_input(
    run: Run, workspace: Workspace, page_id: str, secrets: list[str], message: str
) -> None:
    result = run(*add_args(*secrets, page_id=page_id))
    assert result.code == 1
    assert message in result.err
    result.assert_no_secrets()
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_channel_add_reads_a_secret_from_stdin(
    run: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PAGE_TOKEN + "\n"))
    args = secret_args(page_token="-")
    result = run(*add_args(*args))
    assert result.code == 0, result.err
    result.assert_no_secrets()
    assert Channel.objects.get().page_access_token == PAGE_TOKEN


@pytest.mark.django_db
def test_channel_add_reads_one_line_per_dash_in_order(
    run: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.StringIO(f"{PAGE_TOKEN}\n{APP_SECRET}\n{VERIFY_TOKEN}\n")
    monkeypatch.setattr(sys, "stdin", stdin)
    result = run(*add_args("--verify-token", "-", "--app-secret", "-", "--page-token", "-"))
    assert result.code == 0, result.err
    channel = Channel.objects.get()
    assert (channel.page_access_token, channel.app_secret) == (PAGE_TOKEN, APP_SECRET)
    assert channel.verify_token == VERIFY_TOKEN


@pytest.mark.django_db
def test_channel_add_empty_stdin_is_a_usage_error(
    run: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    result = run(*add_args(*secret_args(page_token="-")))
    assert result.code == 2
    assert "expected the page token on stdin" in result.err
    result.assert_no_secrets()
    assert not Channel.objects.exists()


@pytest.mark.django_db
def test_channel_add_takes_secrets_from_the_environment(
    run: Run, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAGEDESK_PAGE_TOKEN", PAGE_TOKEN)
    monkeypatch.setenv("PAGEDESK_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("PAGEDESK_VERIFY_TOKEN", VERIFY_TOKEN)
    result = run(*add_args())
    assert result.code == 0, result.err
    result.assert_no_secrets()
    channel = Channel.objects.get()
    assert (channel.page_access_token, channel.app_secret) == (PAGE_TOKEN, APP_SECRET)


@pytest.mark.django_db
def test_channel_add_without_a_token_is_a_usage_error(run: Run, workspace: Workspace) -> None:
    result = run(*add_args("--app-secret", APP_SECRET, "--verify-token", VERIFY_TOKEN))
    assert result.code == 2
    assert "--page-token" in result.err
    assert "PAGEDESK_PAGE_TOKEN" in result.err
    result.assert_no_secrets()


# --- channel list -------------------------------------------------------------------


@pytest.mark.django_db
def test_channel_list_never_shows_credentials(run: Run, channel: Channel) -> None:
    result = run("channel", "list")
    assert result.code == 0
    result.assert_no_secrets()
    header, row = result.out.splitlines()
    assert header.split() == ["id", "workspace", "page", "id", "name", "username", "status"]
    assert row.split() == [
        str(channel.pk),
        "acme-bikes",
        PAGE_ID,
        "Acme",
        "Page",
        "acmebikes",
        "active",
    ]


@pytest.mark.django_db
def test_channel_list_filters_by_workspace(run: Run, channel: Channel) -> None:
    other = do_create_workspace(name="Zebra", owner_email="z@zebra.test")
    do_add_channel(
        workspace=other,
        page_id="5555555555",
        page_token=NEW_PAGE_TOKEN,
        app_secret=NEW_APP_SECRET,
        verify_token=VERIFY_TOKEN,
    )
    everything = run("channel", "list")
    assert PAGE_ID in everything.out and "5555555555" in everything.out
    zebra = run("channel", "list", "--workspace", "zebra")
    assert zebra.code == 0
    assert "5555555555" in zebra.out and PAGE_ID not in zebra.out
    everything.assert_no_secrets()
    zebra.assert_no_secrets()


@pytest.mark.django_db
def test_channel_list_unknown_workspace(run: Run) -> None:
    result = run("channel", "list", "--workspace", "nope")
    assert result.code == 1
    assert "No workspace 'nope'" in result.err


@pytest.mark.django_db
def test_channel_list_when_empty(run: Run) -> None:
    result = run("channel", "list")
    assert result.code == 0
    assert "No channels yet" in result.out


# --- channel update -----------------------------------------------------------------


def pause(channel: Channel) -> None:
    Channel.objects.filter(pk=channel.pk).update(
        status=Channel.Status.PAUSED, status_reason="token expired"
    )


@pytest.mark.django_db
def test_channel_update_rotates_the_token_and_unpauses(run: Run, channel: Channel) -> None:
    pause(channel)
    result = run("channel", "update", str(channel.pk), "--page-token", NEW_PAGE_TOKEN)
    assert result.code == 0, result.err
    result.assert_no_secrets()
    assert "active again" in result.out
    channel.refresh_from_db()
    assert channel.page_access_token == NEW_PAGE_TOKEN
    assert channel.app_secret == APP_SECRET
    assert (channel.status, channel.status_reason) == (Channel.Status.ACTIVE, "")


@pytest.mark.django_db
def test_channel_update_app_secret_only_keeps_the_pause(run: Run, channel: Channel) -> None:
    pause(channel)
    result = run("channel", "update", PAGE_ID, "--app-secret", NEW_APP_SECRET)
    assert result.code == 0, result.err
    result.assert_no_secrets()
    channel.refresh_from_db()
    assert channel.app_secret == NEW_APP_SECRET
    assert channel.page_access_token == PAGE_TOKEN
    assert channel.status == Channel.Status.PAUSED


@pytest.mark.django_db
def test_channel_update_reads_stdin(
    run: Run, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{NEW_PAGE_TOKEN}\n{NEW_APP_SECRET}\n"))
    result = run("channel", "update", PAGE_ID, "--page-token", "-", "--app-secret", "-")
    assert result.code == 0, result.err
    result.assert_no_secrets()
    channel.refresh_from_db()
    assert (channel.page_access_token, channel.app_secret) == (NEW_PAGE_TOKEN, NEW_APP_SECRET)


@pytest.mark.django_db
def test_channel_update_needs_something_to_update(run: Run, channel: Channel) -> None:
    result = run("channel", "update", str(channel.pk))
    assert result.code == 2
    assert "nothing to update" in result.err


@pytest.mark.django_db
def test_channel_update_unknown_channel(run: Run, channel: Channel) -> None:
    result = run("channel", "update", "999", "--page-token", NEW_PAGE_TOKEN)
    assert result.code == 1
    assert "No channel '999'" in result.err
    result.assert_no_secrets()


# --- tokens -------------------------------------------------------------------------


@pytest.mark.django_db
def test_token_create_prints_only_a_working_token(run: Run, workspace: Workspace) -> None:
    result = run("token", "create", "--workspace", "acme-bikes", "--name", "ci")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert len(lines) == 1 and result.out == lines[0] + "\n"
    secret = lines[0]
    assert secret not in result.err
    assert "shown only this once" in result.err
    token = authenticate_api_token(secret)
    assert token is not None
    assert (token.workspace, token.name) == (workspace, "ci")


@pytest.mark.django_db
def test_token_create_unknown_workspace(run: Run) -> None:
    result = run("token", "create", "--workspace", "nope")
    assert result.code == 1
    assert result.out == ""
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_list_shows_prefixes_not_secrets(run: Run, workspace: Workspace) -> None:
    new = do_create_api_token(workspace=workspace, name="zapier")
    result = run("token", "list", "--workspace", "acme-bikes")
    assert result.code == 0
    assert new.secret not in result.out
    header, row = result.out.splitlines()
    assert header.split() == ["prefix", "name", "created", "last", "used", "revoked"]
    assert row.split()[:2] == [new.token.prefix, "zapier"]
    assert row.split()[-2:] == ["-", "no"]  # never used, not revoked


@pytest.mark.django_db
def test_token_revoke_stops_authentication(run: Run, workspace: Workspace) -> None:
    secret = run("token", "create", "--workspace", "acme-bikes").out.strip()
    prefix = secret[:12]
    assert authenticate_api_token(secret) is not None

    result = run("token", "revoke", prefix)
    assert result.code == 0, result.err
    assert "revoked" in result.out
    assert authenticate_api_token(secret) is None

    again = run("token", "revoke", prefix)
    assert again.code == 0
    assert "already revoked" in again.out
    listing = run("token", "list", "--workspace", "acme-bikes")
    assert listing.out.splitlines()[1].split()[-1] != "no"


@pytest.mark.django_db
def test_token_revoke_accepts_the_whole_token(run: Run, workspace: Workspace) -> None:
    new = do_create_api_token(workspace=workspace)
    result = run("token", "revoke", new.secret)
    assert result.code == 0, result.err
    assert new.secret not in result.out
    assert authenticate_api_token(new.secret) is None


@pytest.mark.django_db
def test_token_revoke_unknown(run: Run, workspace: Workspace) -> None:
    result = run("token", "revoke", "pdk_nothere")
    assert result.code == 1
    assert "No API token has the prefix 'pdk_nothere'" in result.err
    leaked = "pdk_" + "x" * 40
    whole = run("token", "revoke", leaked)
    assert whole.code == 1
    assert leaked not in whole.err


# --- events -------------------------------------------------------------------------


def make_event(
    channel: Channel,
    raw: RawWebhook,
    index: int,
    *,
    state: str = InboundEvent.State.DONE,
    last_error: str = "",
    attempts: int = 1,
) -> InboundEvent:
    return InboundEvent.objects.create(
        raw_webhook=raw,
        index=index,
        workspace=channel.workspace,
        channel=channel,
        page_id=channel.page_id,
        thread_key=f"psid-{index}",
        kind="message",
        payload={},
        state=state,
        attempts=attempts,
        last_error=last_error,
    )


def make_raw(status: str = RawWebhook.Status.ACCEPTED, error: str = "") -> RawWebhook:
    return RawWebhook.objects.create(
        status=status, page_ids=PAGE_ID, body=b"{}", body_size=2, error=error
    )


@pytest.fixture
def events(channel: Channel) -> list[InboundEvent]:
    raw = make_raw()
    return [
        make_event(channel, raw, 0),
        make_event(
            channel,
            raw,
            1,
            state=InboundEvent.State.DEAD,
            attempts=5,
            last_error="GraphError: (#100) something went wrong\n" + "x" * 200,
        ),
        make_event(channel, raw, 2, state=InboundEvent.State.PENDING, attempts=0),
    ]


@pytest.mark.django_db
def test_events_list_newest_first(run: Run, events: list[InboundEvent]) -> None:
    result = run("events", "list")
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split()[:4] == ["id", "received", "page", "id"]
    assert [int(row.split()[0]) for row in rows] == [e.pk for e in reversed(events)]
    dead = rows[1]
    assert PAGE_ID in dead and "psid-1" in dead and "dead" in dead
    assert "GraphError: (#100) something went wrong" in dead
    assert "x" * 100 not in dead and dead.endswith("…")


@pytest.mark.django_db
def test_events_list_failed_and_limit(run: Run, events: list[InboundEvent]) -> None:
    failed = run("events", "list", "--failed")
    assert [row.split()[0] for row in failed.out.splitlines()[1:]] == [str(events[1].pk)]
    limited = run("events", "list", "--limit", "1")
    assert [row.split()[0] for row in limited.out.splitlines()[1:]] == [str(events[2].pk)]
    assert run("events", "list", "--limit", "0").code == 2


@pytest.mark.django_db
def test_events_list_when_empty(run: Run) -> None:
    assert "No events yet" in run("events", "list").out
    assert "No failed events" in run("events", "list", "--failed").out


@pytest.mark.django_db
def test_events_list_raw(run: Run) -> None:
    accepted = make_raw()
    rejected = make_raw(RawWebhook.Status.BAD_SIGNATURE, error="signature mismatch")
    result = run("events", "list", "--raw")
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["id", "received", "status", "pages", "size", "error"]
    assert [int(row.split()[0]) for row in rows] == [rejected.pk, accepted.pk]
    assert "bad_signature" in rows[0] and "signature mismatch" in rows[0]
    only_rejected = run("events", "list", "--raw", "--failed")
    assert [int(row.split()[0]) for row in only_rejected.out.splitlines()[1:]] == [rejected.pk]


@pytest.fixture
def replay_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []

    def fake_replay_events(*, event_ids: list[int] | None = None, failed: bool = False) -> int:
        calls.append({"event_ids": event_ids, "failed": failed})
        return 7 if failed else len(event_ids or [])

    monkeypatch.setattr("pagedesk.inbox.ingest.replay_events", fake_replay_events)
    return calls


@pytest.mark.django_db
def test_events_replay_ids(
    run: Run, events: list[InboundEvent], replay_calls: list[dict[str, object]]
) -> None:
    ids = [events[2].pk, events[1].pk]
    result = run("events", "replay", *map(str, ids))
    assert result.code == 0, result.err
    assert replay_calls == [{"event_ids": sorted(ids), "failed": False}]
    assert result.out == "re-queued 2 events\n"


@pytest.mark.django_db
def test_events_replay_failed(run: Run, replay_calls: list[dict[str, object]]) -> None:
    result = run("events", "replay", "--failed")
    assert result.code == 0, result.err
    assert replay_calls == [{"event_ids": None, "failed": True}]
    assert result.out == "re-queued 7 events\n"


@pytest.mark.django_db
def test_events_replay_unknown_id(
    run: Run, events: list[InboundEvent], replay_calls: list[dict[str, object]]
) -> None:
    result = run("events", "replay", str(events[0].pk), "99999")
    assert result.code == 1
    assert "No event 99999" in result.err
    assert replay_calls == []


@pytest.mark.django_db
@pytest.mark.parametrize("argv", [["events", "replay"], ["events", "replay", "1", "--failed"]])
def test_events_replay_needs_ids_or_failed(
    run: Run, replay_calls: list[dict[str, object]], argv: list[str]
) -> None:
    result = run(*argv)
    assert result.code == 2
    assert "give event ids or --failed" in result.err
    assert replay_calls == []


@pytest.mark.django_db
def test_events_replay_rejects_non_numeric_ids(
    run: Run, replay_calls: list[dict[str, object]]
) -> None:
    assert run("events", "replay", "abc").code == 2
    assert replay_calls == []


# --- help ---------------------------------------------------------------------------

HELP = [
    (["workspace"], "create and list workspaces"),
    (["workspace", "create"], "--owner-email"),
    (["workspace", "list"], "list workspaces"),
    (["channel"], "connect Facebook Pages"),
    (["channel", "add"], "read it from stdin"),
    (["channel", "list"], "--workspace"),
    (["channel", "update"], "unpauses a paused channel"),
    (["token"], "REST API tokens"),
    (["token", "create"], "shown once"),
    (["token", "list"], "--workspace"),
    (["token", "revoke"], "PREFIX"),
    (["events"], "replay"),
    (["events", "list"], "--raw"),
    (["events", "replay"], "--failed"),
]


@pytest.mark.parametrize(("argv", "expected"), HELP, ids=[" ".join(a) for a, _ in HELP])
def test_every_operator_subcommand_has_help(run: Run, argv: list[str], expected: str) -> None:
    result = run(*argv, "--help")
    assert result.code == 0
    assert f"usage: pagedesk {' '.join(argv)}" in result.out
    assert expected in " ".join(result.out.split())


def test_group_without_an_action_is_a_usage_error(run: Run) -> None:
    result = run("channel")
    assert result.code == 2
    assert "ACTION" in result.err


def test_help_runs_as_a_module() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pagedesk.cli", "channel", "list", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "usage: pagedesk channel list" in completed.stdout
    assert "never shown" in completed.stdout
