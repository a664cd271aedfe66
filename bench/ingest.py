"""Webhook ingest benchmark: durable webhooks/second against a no-op on the same server.

One uvicorn process (one worker, loopback only, a fresh data dir) serves the real
pagedesk application plus a no-op ASGI route mounted by this script only. ``wrk``
POSTs signed Messenger deliveries for a fixed duration at each concurrency, first
to the no-op (the server's ceiling), then to ``/webhooks/messenger`` (every 200 a
committed row plus a queued ingestion job). Afterwards the stored rows and queued
jobs are counted, so a 200 without a row would show.

    python bench/ingest.py                          # SQLite (WAL), 10 s per run
    python bench/ingest.py --postgres postgresql://postgres@127.0.0.1:5432 \\
        --results bench/RESULTS.md                  # SQLite and PostgreSQL, recorded

With ``--postgres`` a scratch database (``pagedesk_bench``) is created on that
server and dropped afterwards. Needs ``wrk`` (Debian/Ubuntu: ``apt-get install wrk``;
macOS: ``brew install wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "src"))

from procinfo import free_port, rss_mib  # noqa: E402 - beside this script

from pagedesk.messenger.signature import sign_body  # noqa: E402 - pure, no Django

PAGE_ID = "104857600054321"
APP_SECRET = "bench-app-secret"
NOOP_PATH = "/bench/noop"
WEBHOOK_PATH = "/webhooks/messenger"
BENCH_DB = "pagedesk_bench"
DISTINCT_BODIES = 2000
# (connections, ratio at least, p99 under ms): the inbound-pipeline issue's target, and
# the production issue's stricter one.
TARGETS = ((32, 0.25, 50.0, "inbound pipeline"), (128, 0.35, 50.0, "production"))


# --- the server side (runs in child processes with the benchmark's environment) -------


def prepare() -> None:
    """Migrate, seed one channel, and time the two writes an accepted POST costs."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from huey.contrib.djhuey import HUEY

    from pagedesk.core.actions import do_add_channel, do_create_workspace
    from pagedesk.core.models import RawWebhook
    from pagedesk.inbox.tasks import ingest_webhook

    call_command("migrate", interactive=False, verbosity=0)
    workspace = do_create_workspace(name="Bench", owner_email="bench@example.com")
    do_add_channel(
        workspace=workspace,
        page_id=PAGE_ID,
        page_token="EAAG-bench-token",
        app_secret=APP_SECRET,
        verify_token="bench-verify-token",
    )
    rounds, body = 300, _body(0)
    started = time.perf_counter()
    for _ in range(rounds):
        with transaction.atomic():
            RawWebhook.objects.create(status="malformed", body=body, body_size=len(body))
    insert_us = (time.perf_counter() - started) / rounds * 1e6
    RawWebhook.objects.all().delete()
    started = time.perf_counter()
    for n in range(rounds):
        ingest_webhook(n)
    enqueue_us = (time.perf_counter() - started) / rounds * 1e6
    HUEY.flush()
    print(json.dumps({"insert_commit_us": insert_us, "enqueue_us": enqueue_us}))


def serve(port: int) -> None:
    import uvicorn

    from pagedesk.asgi import build_application
    from pagedesk.edge.asgi_helpers import Receive, Scope, Send, read_body, respond

    pagedesk_app = build_application()  # its lifespan start-up tunes the collector

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == NOOP_PATH:
            await read_body(receive, 1 << 20)  # the same reading the real endpoint does
            await respond(send, 200, "EVENT_RECEIVED")
        else:
            await pagedesk_app(scope, receive, send)

    uvicorn.run(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="warning", access_log=False
    )


def check() -> None:
    """Count what the run left behind: rows by status, ingestion jobs queued."""
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from huey.contrib.djhuey import HUEY

    from pagedesk.core.models import RawWebhook
    from pagedesk.inbox import tasks  # noqa: F401 - registers the task for deserialising

    with connection.cursor() as cursor:  # how durable a commit is, as configured
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            mode = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            levels = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            durability = f"journal_mode={mode}, synchronous={levels[cursor.fetchone()[0]]}"
        else:
            cursor.execute("SHOW synchronous_commit")
            durability = f"synchronous_commit={cursor.fetchone()[0]}"
    rows = dict(RawWebhook.objects.values_list("status").annotate(n=Count("id")).order_by())
    jobs = [task for task in HUEY.pending() if task.name == "ingest_webhook"]
    unique = len({task.args[0] for task in jobs})
    summary = {"rows": rows, "jobs": len(jobs), "unique_jobs": unique, "durability": durability}
    print(json.dumps(summary))


# --- the load side ---------------------------------------------------------------------


def _body(n: int) -> bytes:
    envelope = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": 1782000000000 + n,
                "messaging": [
                    {
                        "sender": {"id": str(6785432109876543 + n % 500)},
                        "recipient": {"id": PAGE_ID},
                        "timestamp": 1782000000000 + n,
                        "message": {
                            "mid": f"m_bench_{n:08d}_AaZ0-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                            "text": f"Hi! Do you still have the blue bike in size M? ({n}) Grüße",
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=True).encode()


def write_wrk_script(path: Path) -> None:
    """A Lua script cycling through pre-signed, distinct deliveries; prints JSON when done."""
    requests = []
    for n in range(DISTINCT_BODIES):
        body = _body(n).decode()
        assert "]==]" not in body
        requests.append(f'{{[==[{body}]==], "{sign_body(_body(n), APP_SECRET)}"}}')
    path.write_text(
        "local bodies = {\n" + ",\n".join(requests) + "\n}\n"
        """
local prepared, i = {}, 0
function init(args)
  for n, b in ipairs(bodies) do
    prepared[n] = wrk.format("POST", args[1], {
      ["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = b[2]}, b[1])
  end
  i = math.random(#prepared)
end
function request()
  i = i % #prepared + 1
  return prepared[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""
    )


@dataclass(frozen=True)
class Run:
    target: str
    connections: int
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def answered(self) -> int:
        """Requests answered 2xx (wrk counts completed requests, errors separately)."""
        return self.requests - self.non2xx

    @property
    def rps(self) -> float:
        return self.answered / self.seconds


def wrk(script: Path, url: str, path: str, connections: int, seconds: int) -> Run:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    command += ["-s", str(script), url, "--", path]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in output.splitlines() if ln.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    return Run(
        target="no-op" if path == NOOP_PATH else "webhook",
        connections=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


# --- orchestration ---------------------------------------------------------------------


def child(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, str(HERE), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


@contextmanager
def server(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(HERE), "serve", str(port)], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """Create ``pagedesk_bench`` on the server; yield its URL; drop it afterwards."""
    import psycopg

    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")  # a leftover of an aborted run
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    try:
        yield urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


@dataclass
class EngineResult:
    engine: str
    runs: list[Run]
    costs: dict[str, float]
    check: dict[str, object]
    answered_200: int
    web_rss_mib: float = 0.0


def bench_engine(
    engine: str,
    database_url: str | None,
    connections: list[int],
    seconds: int,
    rounds: int,
    script: Path,
) -> EngineResult:
    with tempfile.TemporaryDirectory(prefix="pagedesk-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env |= {
            "PAGEDESK_DATA_DIR": data_dir,
            "PAGEDESK_SECRET_KEY": "bench-secret-key",
            "DJANGO_SETTINGS_MODULE": "pagedesk.settings",
            "PYTHONPATH": str(HERE.parents[1] / "src"),
        }
        if database_url:
            env["DATABASE_URL"] = database_url
        costs = json.loads(child(env, "prepare"))
        with server(env) as (url, pid):
            warm_up = [wrk(script, url, target, 8, 1) for target in (NOOP_PATH, WEBHOOK_PATH)]
            runs: list[Run] = []
            for c in connections:
                # Alternating rounds: the machine's speed drifts, so each ratio is taken
                # between neighbours and the report uses the medians.
                for _ in range(rounds):
                    for target in (NOOP_PATH, WEBHOOK_PATH):
                        run = wrk(script, url, target, c, seconds)
                        print(
                            f"  {engine:<10} {run.target:<8} c={c:<4} {run.rps:8.0f}/s", flush=True
                        )
                        runs.append(run)
            rss = rss_mib(pid)
        answered = sum(r.answered for r in warm_up + runs if r.target == "webhook")
        check = json.loads(child(env, "check"))
        return EngineResult(engine, runs, costs, check, answered, rss)


def report(results: list[EngineResult], command: str) -> str:
    lines = [
        "| engine | connections | no-op req/s | webhooks/s | ratio (per round) | p50 ms | p99 ms"
        " | no-op p50 / p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for result in results:
        for c in sorted({run.connections for run in result.runs}):
            noops, hooks = (
                [r for r in result.runs if (r.connections, r.target) == (c, t)]
                for t in ("no-op", "webhook")
            )
            ratio = median(r.rps for r in hooks) / median(r.rps for r in noops)
            rounds = ", ".join(f"{h.rps / n.rps:.2f}" for n, h in zip(noops, hooks, strict=True))
            errors = sum(r.non2xx + r.socket_errors for r in hooks)
            p99 = max(r.p99_ms for r in hooks)  # the worst round's
            lines.append(
                f"| {result.engine} | {c} | {median(r.rps for r in noops):,.0f} "
                f"| {median(r.rps for r in hooks):,.0f} | {ratio:.2f} ({rounds}) "
                f"| {median(r.p50_ms for r in hooks):.1f} | {p99:.1f} "
                f"| {median(r.p50_ms for r in noops):.1f} / {max(r.p99_ms for r in noops):.1f} "
                f"| {errors} |"
            )
            for connections, target_ratio, target_p99, issue in TARGETS:
                if c != connections:
                    continue
                ok = ratio >= target_ratio and p99 < target_p99
                verdicts.append(
                    f"- {result.engine}, {c} connections: ratio {ratio:.2f} (target >= "
                    f"{target_ratio}), p99 {p99:.1f} ms (target < {target_p99:.0f}; "
                    f"the {issue} issue's) → **{'met' if ok else 'MISSED'}**"
                )
    lines += ["", *verdicts, ""]
    for result in results:
        check = result.check
        lines.append(
            f"- {result.engine} ({check['durability']}): "
            f"{result.answered_200:,} POSTs answered 200 (incl. warm-up); "
            f"rows stored: {_rows(check['rows'])}; ingestion jobs queued {check['jobs']:,} "
            f"({check['unique_jobs']:,} distinct rows). Single durable writes outside the "
            f"load: one-row ORM insert + commit {result.costs['insert_commit_us']:.0f} µs, "
            f"Huey enqueue (SQLite queue) {result.costs['enqueue_us']:.0f} µs. "
            f"Web process memory (RSS) after the runs: {result.web_rss_mib:.0f} MiB."
        )
    cpu = _cpu_model()
    lines += [
        "",
        f"Machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{_versions()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with:",
        "",
        "```",
        command,
        "```",
    ]
    return "\n".join(lines) + "\n"


def _rows(by_status: object) -> str:
    assert isinstance(by_status, dict)
    return ", ".join(f"{n:,} {status}" for status, n in sorted(by_status.items())) or "none"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _uvicorn_kind() -> str:
    """The HTTP parser and event loop uvicorn's "auto" picks here."""
    from importlib.util import find_spec

    parser = "httptools" if find_spec("httptools") else "h11"
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return f"{parser}, {loop}"


def _versions() -> str:
    import sqlite3
    from importlib.metadata import version

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
    return (
        f"uvicorn {version('uvicorn')} ({_uvicorn_kind()}), Django {version('django')}, "
        f"huey {version('huey')}, SQLite {sqlite3.sqlite_version}, "
        f"wrk {wrk_version[1] if len(wrk_version) > 1 else '?'}"
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] in {"prepare", "serve", "check"}:
        {"prepare": prepare, "check": check}.get(sys.argv[1], lambda: serve(int(sys.argv[2])))()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="duration of each run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating no-op / webhook runs per concurrency"
    )
    parser.add_argument("--connections", default="32,128", help="comma-separated")
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL server")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--results", type=Path, help="write the markdown table here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench/ingest.py needs wrk: `apt-get install wrk` (Debian/Ubuntu) or "
            "`brew install wrk` (macOS).",
            file=sys.stderr,
        )
        return 2
    connections = [int(c) for c in args.connections.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="pagedesk-wrk-") as tmp:
        script = Path(tmp) / "deliveries.lua"
        write_wrk_script(script)
        if not args.no_sqlite:
            results.append(
                bench_engine("SQLite", None, connections, args.seconds, args.rounds, script)
            )
        if args.postgres:
            with scratch_postgres(args.postgres) as url:
                results.append(
                    bench_engine("PostgreSQL", url, connections, args.seconds, args.rounds, script)
                )
    command = shlex.join(["python", "bench/ingest.py", *sys.argv[1:]])
    table = report(results, command)
    print("\n" + table)
    if args.results:
        # This benchmark owns the top of the file; other benchmarks' sections stay.
        old = args.results.read_text(encoding="utf-8") if args.results.exists() else ""
        others = old[old.index("<!-- bench/") :] if "<!-- bench/" in old else ""
        args.results.write_text(_RESULTS_HEADER + table + ("\n" + others if others else ""))
    return 0


_RESULTS_HEADER = """# Webhook ingest benchmark results

Written by `bench/ingest.py` (see `bench/README.md`). Webhooks/s counts only
POSTs answered 200, each a committed `RawWebhook` row with its ingestion queued
(a job per span of 100 rows of a group commit; Huey on SQLite in both runs: no
`REDIS_URL`); the no-op is the same server answering without touching storage.

"""

if __name__ == "__main__":
    sys.exit(main())
