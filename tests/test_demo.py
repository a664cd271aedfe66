"""`pagedesk up --demo` end to end: a customer writes on the sandbox phone and the
signed webhook shows up in pagedesk's webhook log; Ctrl-C stops everything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pagedesk.demo import DEMO_EMAIL, DEMO_PAGE_ID, DEMO_PASSWORD
from tests.servers import free_port


def _wait_for_line(process: subprocess.Popen[str], pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if re.search(pattern, line):
            return line
    raise AssertionError(f"never printed {pattern!r}; output:\n{''.join(seen)}")


def _login(http: httpx.Client) -> None:
    http.get("/admin/login/")
    response = http.post(
        "/admin/login/?next=/events/",
        data={
            "username": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
        headers={"Referer": str(http.base_url) + "/admin/login/"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Webhook log" in response.text


def test_demo_customer_message_reaches_the_webhook_log(tmp_path: Path) -> None:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PAGEDESK_SECRET_KEY", "PAGEDESK_GRAPH_URL"}
    }
    env["PAGEDESK_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "pagedesk.cli", "up", "--demo", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_line(process, r"sign in: admin@example.com", timeout=90)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=15) as http:
            assert "Acme Bikes" not in http.get("/").text  # nothing shown before sign-in
            phone = http.get("/sandbox/")
            assert phone.status_code == 200
            assert "<html" in phone.text.lower()

            customers = http.get(f"/sandbox/_sandbox/pages/{DEMO_PAGE_ID}/customers").json()
            psid = customers["data"][0]["psid"]
            sent = http.post(
                f"/sandbox/_sandbox/customers/{psid}/messages",
                json={"text": "Is the <b>red</b> bike still available?"},
            )
            assert sent.status_code < 300, sent.text
            assert http.post("/sandbox/_sandbox/flush", json={"timeout": 20}).status_code == 200

            _login(http)
            inbox = http.get("/inbox/?tab=all").text
            assert "James Carter" in inbox  # the seeded conversations, profile names fetched
            assert "Mia Schneider" in inbox
            deadline = time.monotonic() + 30
            while True:  # the worker summarises each accepted delivery shortly after
                log = http.get("/events/?status=accepted").text
                if log.count('class="kinds">message<') >= 3 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
            # two seeded customer messages + ours, each verified and summarised
            assert log.count('class="kinds">message<') >= 3, log
            newest = re.search(r'href="/events/(\d+)/"', log)
            assert newest is not None
            detail = http.get(f"/events/{newest.group(1)}/").text
            assert "signature valid" in detail
            assert "Is the &lt;b&gt;red&lt;/b&gt; bike still available?" in detail  # escaped
    finally:
        process.send_signal(signal.SIGINT)
        try:
            returncode = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert returncode == 0
