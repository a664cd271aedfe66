"""The ``pagedesk`` command.

``pagedesk up`` runs everything (web, worker and, for the demo, the sandbox) as one
process group: Ctrl-C stops all of it. The other subcommands run one part each so
an operator can scale them out.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


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
    from django.core.management import call_command

    call_command("run_huey", workers=args.workers)
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

    worker = sub.add_parser("worker", help="run the background job worker (Huey)")
    worker.add_argument("--workers", type=int, default=2, help="threads (default %(default)s)")
    worker.set_defaults(func=cmd_worker)

    sandbox = sub.add_parser("sandbox", help="run the local Graph API sandbox on its own")
    sandbox.add_argument("--host", default="127.0.0.1", help="address (default %(default)s)")
    sandbox.add_argument("--port", type=int, default=8001, help="port (default %(default)s)")
    sandbox.add_argument("--snapshot", default=None, help="JSON file to keep the sandbox state in")
    sandbox.set_defaults(func=cmd_sandbox)

    manage = sub.add_parser("manage", help="run a Django management command", add_help=False)
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
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
