"""The fault suite's toolbox: pagedesk's real processes, the sandbox, and the tally.

Every fault test runs ``pagedesk web`` and/or ``pagedesk worker`` as child processes
(so they can be killed for real), talks to the sandbox over HTTP, and ends with a
:class:`Tally` of what was sent, stored, processed, duplicated and lost, which is
printed and, when ``test-artifacts/`` exists, appended to ``test-artifacts/faults.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from pagedesk.sandbox.app import create_app
from tests.servers import ServerThread, free_port

REPO = Path(__file__).resolve().parents[2]
VERIFY_TOKEN = "faults-verify-token"
PAGE_NAME = "Acme Bikes"


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


# --- pagedesk processes --------------------------------------------------------------


def pagedesk_env(**overrides: str | None) -> dict[str, str]:
    """The test's environment with ``overrides``; a None value removes the variable."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


class Process:
    """A ``pagedesk`` subcommand as a child process, its output kept in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = [sys.executable, "-m", "pagedesk.cli", *args]
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Process:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start #{self.starts}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up, no goodbye."""
        if self.popen is not None and self.alive:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is None or not self.alive:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Web(Process):
    def __init__(self, env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__("web", ["web", "--port", str(self.port)], env, log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Web:
        super().start()
        wait_for(self._answers, 30, "pagedesk web to answer")
        return self

    def _answers(self) -> bool:
        if not self.alive:
            raise AssertionError(f"pagedesk web exited:\n{self.log()[-3000:]}")
        try:
            httpx.get(f"{self.url}/webhooks/messenger", timeout=1)
        except httpx.HTTPError:
            return False
        return True


def worker(env: dict[str, str], log_dir: Path) -> Process:
    return Process("worker", ["worker", "--workers", "2"], env, log_dir)


@contextlib.contextmanager
def running(*processes: Process) -> Iterator[None]:
    """Stop every process at the end, whatever happened."""
    try:
        yield
    finally:
        for process in processes:
            process.stop()


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pagedesk.cli", *args],
        env=env,
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, f"pagedesk {' '.join(args)}: {done.stderr.decode()[-2000:]}"
    return done.stdout.decode()


# --- the sandbox ---------------------------------------------------------------------


@dataclass
class Sandbox:
    """The Graph API sandbox on a loopback port, with one page and a few customers."""

    server: ServerThread
    control: httpx.Client
    page_id: str = ""
    page_token: str = ""
    app_secret: str = ""
    psids: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def add_page(self, customers: int) -> None:
        self.app_secret = self.control.get("/app").json()["app_secret"]
        page = self.control.post(
            "/pages",
            json={
                "name": PAGE_NAME,
                "subscribed_fields": [
                    "messages",
                    "message_echoes",
                    "message_deliveries",
                    "message_reads",
                ],
            },
        ).json()
        self.page_id, self.page_token = page["page_id"], page["access_token"]
        for n in range(customers):
            customer = self.control.post(
                f"/pages/{self.page_id}/customers", json={"first_name": f"Customer{n}"}
            ).json()
            self.psids.append(customer["psid"])

    def subscribe(self, callback_base: str) -> None:
        """Point the app's webhooks at pagedesk (runs Meta's verification handshake)."""
        self.control.post(
            "/app",
            json={
                "callback_url": f"{callback_base}/webhooks/messenger",
                "verify_token": VERIFY_TOKEN,
            },
        ).raise_for_status()

    def configure(self, **config: Any) -> None:
        self.control.patch("/config", json=config).raise_for_status()

    def page(self, **settings: Any) -> None:
        self.control.patch(f"/pages/{self.page_id}", json=settings).raise_for_status()

    def customer_writes(self, psid: str, text: str, count: int = 1) -> None:
        body: dict[str, Any] = {"text": text}
        if count > 1:
            body["count"] = count
        response = self.control.post(f"/customers/{psid}/messages", json=body)
        assert response.status_code < 300, response.text

    def flush(self, timeout: float = 30) -> None:
        self.control.post(
            "/flush", json={"timeout": timeout}, timeout=timeout + 5
        ).raise_for_status()

    def sends(self) -> list[dict[str, Any]]:
        return self.control.get("/sends").json()["data"]

    def deliveries(self) -> list[dict[str, Any]]:
        return self.control.get("/deliveries").json()["data"]

    def phone_texts(self, psid: str) -> list[str]:
        """What the customer's phone shows from the page."""
        thread = self.control.get(f"/customers/{psid}/thread").json()
        return [item.get("text") or "" for item in thread["items"] if item["from"] == "page"]


@contextlib.contextmanager
def sandbox(customers: int = 1) -> Iterator[Sandbox]:
    server = ServerThread(create_app()).start()
    control = httpx.Client(base_url=f"{server.url}/_sandbox", timeout=30)
    box = Sandbox(server, control)
    try:
        box.add_page(customers)
        yield box
    finally:
        control.close()
        server.stop()


def connect_page(env: dict[str, str], box: Sandbox) -> int:
    """Create a workspace and connect the sandbox page, as an operator would; returns
    the workspace id."""
    created = run_cli(env, "workspace", "create", "Acme", "--owner-email", "owner@acme.test")
    run_cli(
        env,
        "channel",
        "add",
        "--workspace",
        "acme",
        "--page-id",
        box.page_id,
        "--page-token",
        "-",
        "--app-secret",
        "-",
        "--verify-token",
        VERIFY_TOKEN,
        "--name",
        PAGE_NAME,
        stdin=f"{box.page_token}\n{box.app_secret}\n",
    )
    found = re.search(r"\bid (\d+)", created)
    assert found, created
    return int(found.group(1))


# --- private servers (never the shared ones other tests use) -------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres() -> list[str]:
    """initdb refuses to run as root: run the cluster as the postgres OS user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PrivatePostgres:
    """A throw-away PostgreSQL cluster in a temp dir, on a free port, trust auth."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/pagedesk"

    def _ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log")]
        subprocess.run(
            [*_as_postgres(), *command, "-o", options, "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
            timeout=90,
        )

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            [
                *_as_postgres(),
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.start()
        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as pg:
            pg.execute("CREATE DATABASE pagedesk")

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {PG_BIN}")
    root = Path(tempfile.mkdtemp(prefix="pagedesk-faults-pg-"))
    cluster = PrivatePostgres(root)
    try:
        cluster.init()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """A throw-away redis-server on a free port, no persistence."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_dir / "redis.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [
                    REDIS_SERVER,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._answers, 15, "redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@contextlib.contextmanager
def private_redis(log_dir: Path) -> Iterator[PrivateRedis]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server not installed")
    server = PrivateRedis(log_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# --- reading what pagedesk stored ----------------------------------------------------


class Database:
    """Plain SQL on pagedesk's database (SQLite file or PostgreSQL URL)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite:"):
            connection = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30)
            try:
                return connection.execute(sql).fetchall()
            finally:
                connection.close()
        with psycopg.connect(self.url, connect_timeout=5) as pg:
            return pg.execute(sql).fetchall()  # type: ignore[arg-type]

    def inbound_texts(self) -> list[str]:
        return [
            row[0] for row in self.rows("SELECT text FROM inbox_message WHERE direction = 'in'")
        ]

    def stored_mids(self) -> Counter[str]:
        """Messages found in the accepted raw webhook rows (a redelivery counts again)."""
        mids: Counter[str] = Counter()
        for (body,) in self.rows("SELECT body FROM core_rawwebhook WHERE status = 'accepted'"):
            envelope = json.loads(bytes(body))
            for entry in envelope.get("entry", []):
                for event in entry.get("messaging", []):
                    message = event.get("message") or {}
                    if message.get("mid") and not message.get("is_echo"):
                        mids[message["mid"]] += 1
        return mids

    def pending_work(self) -> int:
        """Deliveries not yet split plus events not yet processed."""
        unsplit = self.rows(
            "SELECT COUNT(*) FROM core_rawwebhook WHERE status = 'accepted' AND split_at IS NULL"
        )[0][0]
        pending = self.rows("SELECT COUNT(*) FROM inbox_inboundevent WHERE state = 'pending'")
        return int(unsplit) + int(pending[0][0])


# --- the tally -----------------------------------------------------------------------


@dataclass
class Tally:
    """One fault's figures. Inbound: events; outbound: messages and Send API calls."""

    fault: str
    backend: str
    sent: int  # inbound: messages the customers sent; outbound: replies queued
    stored: int  # inbound: distinct messages in accepted webhook rows; outbound: API calls
    processed: int  # inbound: inbox rows; outbound: messages on the customer's phone
    duplicates: int
    lost: int
    seconds: float
    note: str = ""

    def record(self) -> None:
        line = (
            f"| {self.fault} | {self.backend} | {self.sent} | {self.stored} | {self.processed} "
            f"| {self.duplicates} | {self.lost} | {self.seconds:.1f} | {self.note} |"
        )
        print(f"\nfault tally: {line}")
        artifacts = REPO / "test-artifacts"
        if not artifacts.is_dir():
            return
        report = artifacts / "faults.md"
        if not report.exists():
            report.write_text(
                "# Fault suite figures\n\n"
                "| fault | backend | sent | stored / calls | processed / on phone "
                "| duplicates | lost | seconds | note |\n"
                "|---|---|---|---|---|---|---|---|---|\n"
            )
        with report.open("a") as out:
            out.write(line + "\n")


def inbound_tally(
    fault: str, backend: str, sent: list[str], db: Database, started: float, note: str = ""
) -> Tally:
    processed = Counter(db.inbound_texts())
    return Tally(
        fault=fault,
        backend=backend,
        sent=len(sent),
        stored=len(db.stored_mids()),
        processed=sum(processed.values()),
        duplicates=sum(n - 1 for n in processed.values() if n > 1),
        lost=len(set(sent) - set(processed)),
        seconds=time.monotonic() - started,
        note=note,
    )


def backend_label(database_url: str, redis_url: str | None) -> str:
    db = "postgresql" if database_url.startswith("postgres") else "sqlite"
    return f"{db} + {'redis' if redis_url else 'embedded queue'}"


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
