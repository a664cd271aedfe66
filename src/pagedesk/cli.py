"""The ``pagedesk`` command.

``pagedesk up`` runs everything (web, worker and, for the demo, the sandbox) as one
process group: Ctrl-C stops all of it. The other subcommands run one part each so
an operator can scale them out, or manage what is stored: workspaces, channels,
API tokens and the event log (the logic of those is in ``*/cli_commands.py``).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagedesk.settings")
    import django

    django.setup()


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from pagedesk.config import get_config

    mounted = get_config().sandbox_mounted
    uvicorn.run(
        "pagedesk.asgi:demo_application" if mounted else "pagedesk.asgi:application",
        factory=mounted,
        host=args.host,
        port=args.port,
        workers=args.workers,
        lifespan="on",
        log_level="info",
        access_log=args.access_log,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    _setup_django()
    from pagedesk.ops.worker import pool_too_small, run_worker

    if args.processes is None and (problem := pool_too_small(threads=args.workers)):
        print(f"pagedesk: {problem}", file=sys.stderr)
        return 2

    if args.processes is not None:
        run_worker(workers=args.processes, worker_type="process", periodic=args.scheduler)
    else:
        run_worker(workers=args.workers, worker_type="thread", periodic=args.scheduler)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    _setup_django()
    from pagedesk.core.errors import PagedeskError
    from pagedesk.ops import backup

    if not backup.is_sqlite():
        print(f"pagedesk: {backup.pg_dump_advice()}", file=sys.stderr)
        return 1
    try:
        done = backup.do_backup(path=Path(args.path))
    except PagedeskError as exc:
        print(f"pagedesk: {exc.message}", file=sys.stderr)
        return 1
    print(f"backed up the database to {done.path} ({done.size:,} bytes)")
    print(f"pagedesk: {backup.ALSO_COPY}", file=sys.stderr)
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from pagedesk.sandbox.app import create_app

    print(f"pagedesk sandbox: Graph API at http://{args.host}:{args.port}  (customer phone: /)")
    uvicorn.run(create_app(snapshot_path=args.snapshot), host=args.host, port=args.port)
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagedesk.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["pagedesk manage", *args.args])
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    base_url = f"http://{args.host}:{args.port}"
    env = dict(os.environ)
    if args.demo:
        env["PAGEDESK_GRAPH_URL"] = f"{base_url}/sandbox"
        os.environ["PAGEDESK_GRAPH_URL"] = env["PAGEDESK_GRAPH_URL"]
    from pagedesk.config import get_config

    config = get_config()
    env.setdefault("PAGEDESK_SANDBOX_SNAPSHOT", str(config.data_dir.resolve() / "sandbox.json"))
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)

    exe = [sys.executable, "-m", "pagedesk.cli"]
    web_cmd = [*exe, "web", "--host", args.host, "--port", str(args.port)]
    children = [
        subprocess.Popen(web_cmd, env=env),  # noqa: S603 - our own interpreter and module
        subprocess.Popen([*exe, "worker"], env=env),  # noqa: S603
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        if args.demo:
            from pagedesk.demo import seed_demo, wait_until_up

            if wait_until_up(base_url, children, timeout=60):
                credentials = seed_demo(base_url)
                print(
                    f"\npagedesk is running at {base_url}/\n"
                    f"  sign in: {credentials.email} / {credentials.password}\n"
                    f"  customer phone: {base_url}/sandbox/\n"
                    "Press Ctrl-C to stop.\n",
                    flush=True,
                )
        else:
            print(f"pagedesk is running at {base_url}/ (Ctrl-C to stop)", flush=True)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
    failed = [c for c in children if c.returncode not in (0, -signal.SIGINT, None)]
    return 0 if stopping or not failed else 1


# --- operator commands: workspaces, channels, API tokens, the event log ---------------

Operation = Callable[[argparse.Namespace], str | None]


def _secrets_help(order: str) -> str:
    return (
        "Secrets stay out of shell history and `ps`: pass - as the value to read it from "
        "stdin (a hidden prompt on a terminal; otherwise one line per secret given as -, "
        f"in the order {order})"
    )


def cmd_operator(args: argparse.Namespace) -> int:
    """Run an operator subcommand: 0 ok, 1 domain error, 2 usage error."""
    _setup_django()
    from pagedesk.core.cli_commands import UsageError
    from pagedesk.core.errors import PagedeskError

    subparser: argparse.ArgumentParser = args.subparser
    try:
        output = args.operation(args)
    except UsageError as exc:
        subparser.print_usage(sys.stderr)
        print(f"{subparser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except PagedeskError as exc:
        print(f"pagedesk: {' '.join(exc.message.split())}", file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0


def _workspace_create(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands

    return cli_commands.create_workspace(name=args.name, owner_email=args.owner_email)


def _workspace_list(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands

    return cli_commands.list_workspaces()


def _channel_add(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands as cc

    page_token = cc.resolve_secret(
        args.page_token, label="page token", option="--page-token", env_var=cc.PAGE_TOKEN_ENV
    )
    app_secret = cc.resolve_secret(
        args.app_secret, label="app secret", option="--app-secret", env_var=cc.APP_SECRET_ENV
    )
    verify_token = cc.resolve_secret(
        args.verify_token,
        label="verify token",
        option="--verify-token",
        env_var=cc.VERIFY_TOKEN_ENV,
    )
    return cc.add_channel(
        workspace=args.workspace,
        page_id=args.page_id,
        page_token=page_token,
        app_secret=app_secret,
        verify_token=verify_token,
        name=args.name,
        username=args.username,
        kind=args.kind,
    )


def _channel_list(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands

    return cli_commands.list_channels(workspace=args.workspace)


def _channel_update(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands as cc

    page_token = app_secret = None
    if args.page_token is not None:
        page_token = cc.resolve_secret(args.page_token, label="page token", option="--page-token")
    if args.app_secret is not None:
        app_secret = cc.resolve_secret(args.app_secret, label="app secret", option="--app-secret")
    return cc.update_channel(channel=args.channel, page_token=page_token, app_secret=app_secret)


def _token_create(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands

    new = cli_commands.create_token(workspace=args.workspace, name=args.name)
    print(
        f"pagedesk: API token {new.token.prefix}… for workspace {new.token.workspace.slug}; "
        "it is shown only this once, store it now.",
        file=sys.stderr,
    )
    return new.secret


def _token_list(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands

    return cli_commands.list_tokens(workspace=args.workspace)


def _token_revoke(args: argparse.Namespace) -> str:
    from pagedesk.core import cli_commands

    return cli_commands.revoke_token(prefix=args.prefix)


def _events_list(args: argparse.Namespace) -> str:
    from pagedesk.inbox import cli_commands

    if args.raw:
        return cli_commands.list_raw_webhooks(failed=args.failed, limit=args.limit)
    return cli_commands.list_events(failed=args.failed, limit=args.limit)


def _events_replay(args: argparse.Namespace) -> str:
    from pagedesk.inbox import cli_commands

    count = cli_commands.replay(event_ids=args.ids, failed=args.failed)
    return f"re-queued {count} event{'' if count == 1 else 's'}"


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def _operation(
    group: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    operation: Operation,
    help_text: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=help_text, epilog=epilog)
    parser.set_defaults(func=cmd_operator, operation=operation, subparser=parser)
    return parser


def _command_group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = sub.add_parser(name, help=help_text, description=help_text)
    return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _add_workspace_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = _command_group(sub, "workspace", "create and list workspaces")
    create = _operation(
        group, "create", _workspace_create, "create a workspace; prints its slug and id"
    )
    create.add_argument("name", metavar="NAME", help="the workspace's display name")
    create.add_argument(
        "--owner-email",
        required=True,
        metavar="EMAIL",
        help="the owner's email (an account is created for it if there is none)",
    )
    _operation(group, "list", _workspace_list, "list workspaces")


def _add_channel_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = _command_group(sub, "channel", "connect Facebook Pages and rotate their credentials")
    add = _operation(
        group,
        "add",
        _channel_add,
        "connect a Facebook Page (or Instagram account) to a workspace",
        epilog=_secrets_help("page token, app secret, verify token")
        + "; when an option is left out, its environment variable is "
        "used: PAGEDESK_PAGE_TOKEN, PAGEDESK_APP_SECRET, PAGEDESK_VERIFY_TOKEN.",
    )
    add.add_argument("--workspace", required=True, metavar="W", help="workspace slug, name or id")
    add.add_argument("--page-id", required=True, metavar="ID", help="the Page's numeric id")
    add.add_argument(
        "--page-token", metavar="T", help="Page access token, or - to read it from stdin"
    )
    add.add_argument("--app-secret", metavar="S", help="the Meta app's secret, or - for stdin")
    add.add_argument(
        "--verify-token",
        metavar="V",
        help="webhook verify token (8+ characters, also entered in the Meta app), or -",
    )
    add.add_argument("--name", default="", metavar="N", help="display name (default: Page ID)")
    add.add_argument("--username", default="", metavar="U", help="the Page's @username")
    add.add_argument(
        "--kind",
        default="facebook",
        choices=["facebook", "instagram"],
        help="channel kind (default %(default)s)",
    )

    listing = _operation(
        group, "list", _channel_list, "list channels (credentials are never shown)"
    )
    listing.add_argument("--workspace", metavar="W", help="only this workspace's channels")

    update = _operation(
        group,
        "update",
        _channel_update,
        "rotate a channel's credentials; a new page token unpauses a paused channel",
        epilog=_secrets_help("page token, app secret") + ".",
    )
    update.add_argument("channel", metavar="ID", help="the channel's id or its page id")
    update.add_argument("--page-token", metavar="T", help="new Page access token, or - for stdin")
    update.add_argument("--app-secret", metavar="S", help="new app secret, or - for stdin")


def _add_token_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = _command_group(sub, "token", "create, list and revoke REST API tokens")
    create = _operation(
        group,
        "create",
        _token_create,
        "create an API token; prints only the token, so TOKEN=$(pagedesk token create ...) "
        "works (it is shown once)",
    )
    create.add_argument("--workspace", required=True, metavar="W", help="workspace slug/id")
    create.add_argument("--name", default="", metavar="N", help="what the token is for")

    listing = _operation(group, "list", _token_list, "list a workspace's API tokens")
    listing.add_argument("--workspace", required=True, metavar="W", help="workspace slug/id")

    revoke = _operation(group, "revoke", _token_revoke, "revoke an API token immediately")
    revoke.add_argument(
        "prefix", metavar="PREFIX", help="the token's prefix, as `pagedesk token list` shows it"
    )


def _add_events_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = _command_group(sub, "events", "inspect the ingestion log and replay events")
    listing = _operation(group, "list", _events_list, "list inbound events, newest first")
    listing.add_argument(
        "--failed",
        action="store_true",
        help="only failed events (with --raw: only rejected webhooks)",
    )
    listing.add_argument(
        "--raw", action="store_true", help="list the raw webhook deliveries instead"
    )
    listing.add_argument(
        "--limit", type=_positive_int, default=50, metavar="N", help="rows (default %(default)s)"
    )

    replay = _operation(
        group, "replay", _events_replay, "re-queue events for ingestion; prints how many"
    )
    replay.add_argument("ids", nargs="*", type=int, metavar="ID", help="event ids to replay")
    replay.add_argument(
        "--failed", action="store_true", help="replay every failed (dead-lettered) event"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pagedesk",
        description="Self-hosted team inbox for Facebook Messenger.",
        epilog="Configuration comes from the environment; see README.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run web, worker (and the demo sandbox) together")
    up.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    up.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    up.add_argument(
        "--demo", action="store_true", help="mount the sandbox and seed a demo workspace"
    )
    up.set_defaults(func=cmd_up)

    web = sub.add_parser("web", help="run the web server (ASGI)")
    web.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    web.add_argument("--port", type=int, default=8000, help="port (default %(default)s)")
    web.add_argument("--workers", type=int, default=1, help="processes (default %(default)s)")
    web.add_argument("--access-log", action="store_true", help="log every request")
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser(
        "worker",
        help="run the background job worker (Huey)",
        description="Run the background job worker. Run as many as you like: periodic "
        "jobs are enqueued by one of them per minute (see docs/deploy.md).",
    )
    size = worker.add_mutually_exclusive_group()
    size.add_argument(
        "--workers", type=_positive_int, default=2, help="threads (default %(default)s)"
    )
    size.add_argument(
        "--processes",
        type=_positive_int,
        metavar="N",
        help="N worker processes instead of threads: more jobs at once, so lower lag for "
        "more CPU per message (smaller batches); one per core it has (docs/deploy.md)",
    )
    worker.add_argument(
        "--no-scheduler",
        dest="scheduler",
        action="store_false",
        help="never enqueue periodic jobs (sweepers, clean-up) from this worker",
    )
    worker.set_defaults(func=cmd_worker)

    backup = sub.add_parser(
        "backup",
        help="copy the SQLite database consistently while pagedesk runs",
        description="Copy the SQLite database with SQLite's online backup API (safe while "
        "web and worker run). PATH is the new file, or a directory to put a time-stamped "
        "file in. On PostgreSQL it explains how to use pg_dump instead (exit 1).",
    )
    backup.add_argument("path", metavar="PATH", help="new file, or an existing directory")
    backup.set_defaults(func=cmd_backup)

    sandbox = sub.add_parser("sandbox", help="run the local Graph API sandbox on its own")
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default %(default)s)")
    sandbox.add_argument("--port", type=int, default=8001, help="port (default %(default)s)")
    sandbox.add_argument("--snapshot", default=None, help="JSON file to keep the sandbox state in")
    sandbox.set_defaults(func=cmd_sandbox)

    manage = sub.add_parser("manage", help="run a Django management command", add_help=False)
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)

    _add_workspace_commands(sub)
    _add_channel_commands(sub)
    _add_token_commands(sub)
    _add_events_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from pagedesk.config import ConfigError, get_config

    try:
        get_config()
    except ConfigError as exc:
        print(f"pagedesk: {exc}", file=sys.stderr)
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
