"""A blocking server-sent-events client over a raw socket, for tests.

Raw on purpose: reads take a timeout without ever losing bytes already
received, so a test can wait for "the next event or nothing within 0.5 s".
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Message:
    """One SSE message block; ``data`` is None for blocks a browser does not dispatch."""

    id: str | None
    event: str
    data: str | None
    retry: str | None
    comment: str | None

    @property
    def is_event(self) -> bool:
        return self.data is not None


def parse_block(block: str) -> Message:
    fields: dict[str, str] = {}
    data: list[str] = []
    comment = None
    for line in block.split("\n"):
        if line.startswith(":"):
            comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    return Message(
        id=fields.get("id"),
        event=fields.get("event", "message"),
        data="\n".join(data) if data else None,
        retry=fields.get("retry"),
        comment=comment,
    )


class SSEClient:
    def __init__(
        self,
        base_url: str,
        *,
        workspace: int | None = None,
        token: str | None = None,
        cookie: str | None = None,
        last_event_id: int | str | None = None,
        query: dict[str, str] | None = None,
        method: str = "GET",
        path: str = "/live/stream",
    ) -> None:
        parts = urlsplit(base_url)
        params = dict(query or {})
        if workspace is not None:
            params["workspace"] = str(workspace)
        target = path + ("?" + urlencode(params) if params else "")
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Accept: text/event-stream",
        ]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        if cookie is not None:
            lines.append(f"Cookie: {cookie}")
        if last_event_id is not None:
            lines.append(f"Last-Event-ID: {last_event_id}")
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._raw = b""
        self._payload = b""
        self.ended = False
        head = self._read_head()
        status_line, *header_lines = head.split("\r\n")
        self.status = int(status_line.split()[1])
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        self.body = b""
        if "content-length" in self.headers:
            self.body = self._read_exact(int(self.headers["content-length"]))
            self.ended = True

    # --- reading --------------------------------------------------------------------

    def _read_head(self) -> str:
        while b"\r\n\r\n" not in self._raw:
            self._recv(5.0)
        head, _, self._raw = self._raw.partition(b"\r\n\r\n")
        return head.decode("latin-1")

    def _read_exact(self, size: int) -> bytes:
        while len(self._raw) < size:
            self._recv(5.0)
        body, self._raw = self._raw[:size], self._raw[size:]
        return body

    def _recv(self, timeout: float) -> bool:
        """Read what arrives within ``timeout``; False on timeout, raises on EOF."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        if not chunk:
            raise EOFError("the server closed the connection")
        self._raw += chunk
        return True

    def _decode_chunks(self) -> None:
        while not self.ended:
            size_line, sep, rest = self._raw.partition(b"\r\n")
            if not sep:
                return
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                self.ended = True
                return
            if len(rest) < size + 2:
                return
            self._payload += rest[:size]
            self._raw = rest[size + 2 :]

    def next_message(self, timeout: float = 5.0) -> Message | None:
        """The next message block, or None if none arrives in time or the stream ended."""
        deadline = time.monotonic() + timeout
        while True:
            self._decode_chunks()
            if b"\n\n" in self._payload:
                block, _, self._payload = self._payload.partition(b"\n\n")
                return parse_block(block.decode())
            remaining = deadline - time.monotonic()
            if self.ended or remaining <= 0:
                return None
            try:
                self._recv(remaining)
            except EOFError:
                return None

    def events(self, count: int, timeout: float = 5.0) -> list[Message]:
        """The next ``count`` dispatched events (skipping comments and id-only blocks)."""
        deadline = time.monotonic() + timeout
        found: list[Message] = []
        while len(found) < count:
            message = self.next_message(deadline - time.monotonic())
            if message is None:
                raise AssertionError(f"got {len(found)} of {count} events: {found[-3:]}")
            if message.is_event:
                found.append(message)
        return found

    def no_event_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.next_message(remaining)
            if message is None:
                return True
            if message.is_event:
                return False
        return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SSEClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
