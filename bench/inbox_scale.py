"""Inbox at scale: how fast agents' pages are with 100,000 contacts and 1,000,000 messages.

Seeds a scratch PostgreSQL database (``pagedesk_scale_bench`` on the server given by
``--postgres``; created first, dropped at the end unless ``--keep``), starts one
``pagedesk web`` process on loopback, signs an agent in over HTTP, and times, one
request after another:

- the conversation list (All tab, Mine tab, a label filter, the second page);
- a conversation (the pane an agent's click loads, and the full page);
- search (a common word, a rare word, two words, a contact's name);
- the baseline: the account page, a signed-in Django page that reads no inbox data,
  served by the same process in the same run.

Prints p50 / p95 / p99 per page and its p95 as a ratio of the baseline's, and the
SQL queries each page makes (counted in-process with Django's test client on the
same data). Target (issue #5): p95 < 100 ms for list, view and search.

    python bench/inbox_scale.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python bench/inbox_scale.py --postgres … --contacts 10000 --requests 50   # quicker
    python bench/inbox_scale.py --postgres … --results bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from procinfo import free_port

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
BENCH_DB = "pagedesk_scale_bench"
TARGET_P95_MS = 100.0
PASSWORD = "scale-bench-password"
AGENT_EMAIL = "agent0@scale.test"
SECTION_START = "<!-- bench/inbox_scale.py: start -->"
SECTION_END = "<!-- bench/inbox_scale.py: end -->"
_SENTENCE = (
    "order delivery parcel invoice refund size colour shirt shoes bike tyre brake "
    "return exchange discount voucher sale spring summer linen cotton blue black "
    "tomorrow today address payment card cash thanks please hello help question "
    "broken missing late early store open close price stock available"
)
WORDS = _SENTENCE.split()
RARE_WORD = "zeppelin"  # one message in about 20,000 says it
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton")


# --- child process: seeding and query counts (Django, the scratch database) ------------


def _django() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagedesk.settings")
    import django

    django.setup()


def seed(contacts: int, per_conversation: int) -> None:
    """Create the workspace through the actions, then the bulk rows with COPY."""
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from pagedesk.core.actions import do_add_channel, do_create_workspace
    from pagedesk.core.models import Membership, Team
    from pagedesk.inbox.models import Contact, Conversation, Label, Message

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    workspace = do_create_workspace(name="Scale bench", owner_email="owner@scale.test")
    channels = [
        do_add_channel(
            workspace=workspace,
            page_id=str(104857600088000 + n),
            page_token=f"EAAG-scale-bench-{n}",
            app_secret="scale-bench-secret",
            verify_token="scale-bench-verify",
            name=f"Page {n}",
        )
        for n in range(2)
    ]
    users = get_user_model().objects
    agents = []
    for n in range(5):
        email = f"agent{n}@scale.test"
        agent = users.create_user(username=email, email=email, password=PASSWORD)
        Membership.objects.create(workspace=workspace, user=agent, role=Membership.Role.AGENT)
        agents.append(agent)
    team = Team.objects.create(workspace=workspace, name="Support")
    labels = [Label.objects.create(workspace=workspace, name=f"label-{n}") for n in range(10)]
    rng = random.Random(7)
    now = datetime.now(UTC)
    start_ms = int((now - timedelta(days=90)).timestamp() * 1000)

    def copy(model: Any, rows: Iterator[dict[str, Any]]) -> int:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(f'"{f.column}"' for f in fields)
        count = 0
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg's own cursor: COPY
            with raw.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as target:
                for values in rows:
                    row = []
                    for f in fields:
                        value = values[f.attname] if f.attname in values else f.get_default()
                        if f.get_internal_type() == "JSONField":
                            value = json.dumps(value)
                        row.append(value)
                    target.write_row(row)
                    count += 1
        return count

    def contact_rows() -> Iterator[dict[str, Any]]:
        for n in range(contacts):
            yield {
                "workspace_id": workspace.pk,
                "channel_id": channels[n % 2].pk,
                "psid": f"9{n:015d}",
                "first_name": rng.choice(FIRST_NAMES),
                "last_name": f"{rng.choice(LAST_NAMES)}{n}",
                "profile_status": Contact.ProfileStatus.OK,
                "latest_source": "ADS" if n % 10 == 0 else "",
                "created_at": now,
                "updated_at": now,
            }

    copy(Contact, contact_rows())
    contact_ids = list(
        Contact.objects.filter(workspace=workspace).order_by("id").values_list("id", "channel_id")
    )

    def conversation_rows() -> Iterator[dict[str, Any]]:
        for n, (contact_id, channel_id) in enumerate(contact_ids):
            last = start_ms + n * 60_000
            at = datetime.fromtimestamp(last / 1000, tz=UTC)
            yield {
                "workspace_id": workspace.pk,
                "channel_id": channel_id,
                "thread_key": f"9{n:015d}",
                "contact_id": contact_id,
                "status": Conversation.Status.DONE if n % 5 == 0 else Conversation.Status.OPEN,
                "assignee_id": agents[n % 5].pk if n % 3 == 0 else None,
                "team_id": team.pk if n % 4 == 0 else None,
                "last_customer_message_at": at,
                "last_message_at": at,
                "unread_count": n % 3,
                "created_at": at,
                "updated_at": at,
            }

    copy(Conversation, conversation_rows())
    conversations = list(
        Conversation.objects.filter(workspace=workspace)
        .order_by("id")
        .values_list("id", "contact_id", "last_message_at")
    )

    def message_rows() -> Iterator[dict[str, Any]]:
        n = 0
        for conversation_id, contact_id, last in conversations:
            last_ms = int(last.timestamp() * 1000)
            for k in range(per_conversation):
                n += 1
                inbound = k % 2 == 0
                words = rng.choices(WORDS, k=rng.randint(4, 14))
                if n % 20_000 == 0:
                    words.append(RARE_WORD)
                ms = last_ms - (per_conversation - k) * 30_000
                yield {
                    "workspace_id": workspace.pk,
                    "conversation_id": conversation_id,
                    "contact_id": contact_id if inbound else None,
                    "direction": "in" if inbound else "out",
                    "kind": "message",
                    "mid": f"m_scale_{n}",
                    "text": " ".join(words).capitalize() + ".",
                    "status": "received" if inbound else "read",
                    "timestamp_ms": ms,
                    "sent_at": datetime.fromtimestamp(ms / 1000, tz=UTC),
                    "created_at": now,
                }

    messages = copy(Message, message_rows())
    through = Conversation.labels.through
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            f"COPY {through._meta.db_table} (conversation_id, label_id) FROM STDIN"
        ) as target:
            for n, (conversation_id, _, _) in enumerate(conversations):
                if n % 7 == 0:
                    target.write_row([conversation_id, labels[n % 10].pk])
    # What autovacuum does soon after a bulk load: statistics and the visibility map
    # (without it no index-only scan is possible).
    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.connection.cursor() as raw_cursor:
        raw_cursor.execute("VACUUM ANALYZE")
    print(
        json.dumps(
            {
                "contacts": len(contact_ids),
                "conversations": len(conversations),
                "messages": messages,
                "seconds": round(time.monotonic() - started, 1),
                "label_id": labels[3].pk,
                "conversation_ids": [c[0] for c in rng.sample(conversations, 50)],
            }
        )
    )


def count_queries(paths: list[str]) -> None:
    """SQL queries per page, counted in-process on the same data."""
    _django()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(email=AGENT_EMAIL))
    counts = {}
    for path in paths:
        client.get(path)  # the session's first request caches language and workspace
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, headers=_headers_for(path))
        assert response.status_code == 200, (path, response.status_code)
        counts[path] = len(queries)
    print(json.dumps(counts))


def _headers_for(path: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": "pane"} if path.endswith("#pane") else {}


# --- this process: the server, the timings, the report ---------------------------------


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def scratch_database(server_url: str, keep: bool) -> Iterator[str]:
    import psycopg

    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    try:
        yield urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def child(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, str(HERE), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def web_server(env: dict[str, str]) -> Iterator[str]:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pagedesk.cli", "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            server.kill()
            problem = server.stderr.read()[-4000:] if server.stderr else ""
            sys.exit(f"pagedesk web did not start:\n{problem}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def signed_in(url: str) -> Any:
    import httpx

    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/sign-in/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/sign-in/",
        data={"csrfmiddlewaretoken": token[1], "email": AGENT_EMAIL, "password": PASSWORD},
        headers={"Referer": f"{url}/sign-in/"},
    )
    assert response.status_code == 302, f"sign-in failed: {response.status_code}"
    return client


def time_pages(client: Any, pages: dict[str, list[str]], requests: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in pages}
    for paths in pages.values():  # warm up: plans, caches, the session
        for path in paths[:3]:
            client.get(path.removesuffix("#pane"), headers=_headers_for(path))
    for i in range(requests):
        for name, paths in pages.items():
            path = paths[i % len(paths)]
            began = time.perf_counter()
            response = client.get(path.removesuffix("#pane"), headers=_headers_for(path))
            timings[name].append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                sys.exit(f"{path}: HTTP {response.status_code}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="a PostgreSQL server URL")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--messages-per", type=int, default=10, help="per conversation")
    parser.add_argument("--requests", type=int, default=200, help="per page kind")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--results", help="write the results section into this file")
    args = parser.parse_args()

    with (
        scratch_database(args.postgres, args.keep) as database_url,
        tempfile.TemporaryDirectory() as data_dir,
    ):
        env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL"}}
        env |= {
            "DATABASE_URL": database_url,
            "PAGEDESK_DATA_DIR": data_dir,
            "PYTHONPATH": str(ROOT / "src"),
            "PAGEDESK_ALLOWED_HOSTS": "127.0.0.1,localhost",
        }
        print(f"seeding {args.contacts:,} contacts and their messages…", flush=True)
        seeded = child(env, "_seed", str(args.contacts), str(args.messages_per))
        print(
            f"seeded {seeded['contacts']:,} contacts, {seeded['conversations']:,} conversations, "
            f"{seeded['messages']:,} messages in {seeded['seconds']} s",
            flush=True,
        )
        ids = seeded["conversation_ids"]
        pages = {
            "baseline: account page": ["/account/password/"],
            "list: All": ["/inbox/list/"],
            "list: Mine": ["/inbox/list/?tab=mine"],
            "list: a label": [f"/inbox/list/?label={seeded['label_id']}"],
            "conversation (pane)": [f"/inbox/c/{i}/#pane" for i in ids],
            "conversation (full page)": [f"/inbox/c/{i}/" for i in ids],
            "search: common word": ["/inbox/list/?q=parcel"],
            "search: rare word": [f"/inbox/list/?q={RARE_WORD}"],
            "search: two words": ["/inbox/list/?q=refund+linen"],
            "search: a name": ["/inbox/list/?q=lovelace12"],
        }
        counted = [p[0] for name, p in pages.items() if not name.startswith("baseline")]
        query_counts = child(env, "_count", json.dumps(counted))
        with web_server(env) as url:
            client = signed_in(url)
            timings = time_pages(client, pages, args.requests)
    report(args, seeded, pages, timings, query_counts)


def report(
    args: argparse.Namespace,
    seeded: dict[str, Any],
    pages: dict[str, list[str]],
    timings: dict[str, list[float]],
    query_counts: dict[str, int],
) -> None:
    base_p95 = quantile(timings["baseline: account page"], 0.95)
    lines = [
        f"**PostgreSQL**: {seeded['contacts']:,} contacts, {seeded['conversations']:,} "
        f"conversations, {seeded['messages']:,} messages; {args.requests} requests per page, "
        "one at a time, signed in as an agent in no team (sees the whole workspace).",
        "",
        "| page | p50 ms | p95 ms | p99 ms | p95 / baseline | SQL queries | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    missed = []
    for name, values in timings.items():
        p95 = quantile(values, 0.95)
        counted = query_counts.get(pages[name][0], "")
        target = (
            "" if name.startswith("baseline") else ("met" if p95 < TARGET_P95_MS else "**missed**")
        )
        if target == "**missed**":
            missed.append(name)
        lines.append(
            f"| {name} | {quantile(values, 0.5):.1f} | {p95:.1f} | {quantile(values, 0.99):.1f} "
            f"| {p95 / base_p95:.1f} | {counted} | {target} |"
        )
    lines += [
        "",
        f"- Target p95 < {TARGET_P95_MS:.0f} ms: "
        + ("**met** for every page." if not missed else f"**missed** for {', '.join(missed)}."),
        f"- Seeding (COPY, indexes kept, then VACUUM ANALYZE) took {seeded['seconds']} s.",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}. "
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with:",
        "",
        "```",
        "python bench/inbox_scale.py --postgres postgresql://postgres@127.0.0.1:5432/postgres"
        + (f" --contacts {args.contacts}" if args.contacts != 100_000 else "")
        + (" --results bench/RESULTS.md" if args.results else ""),
        "```",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    if args.results:
        path = Path(args.results)
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        section = (
            f"{SECTION_START}\n## Inbox at scale (`bench/inbox_scale.py`)\n\n{text}\n{SECTION_END}"
        )
        if SECTION_START in old:
            before, rest = old.split(SECTION_START, 1)
            after = rest.split(SECTION_END, 1)[1]
            path.write_text(before + section + after, encoding="utf-8")
        else:
            path.write_text(old.rstrip() + "\n\n" + section + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_seed":
        seed(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_count":
        count_queries(json.loads(sys.argv[2]))
    else:
        main()
