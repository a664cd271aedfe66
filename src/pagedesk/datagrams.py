"""Wake-up datagrams between the processes of one machine (embedded mode, no Redis).

Each process that wants waking binds a Unix datagram socket in a folder of the
data dir; a sender writes one small datagram to every socket there. A wake-up is
never the only way to learn of work: whoever listens also polls, so a lost or
skipped datagram costs latency, never data. Hence sending never blocks and never
fails its caller: a socket whose process died is removed, a full one (its process
has wake-ups to read already) is skipped.

Used by live updates (``pagedesk.live.wakeup``: the worker's commits wake the web
processes' streams) and by the embedded job queue (``pagedesk.queue``: an enqueue
wakes the idle workers).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import select
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


class Datagrams:
    def __init__(self, folder: str, *, to_self: bool) -> None:
        self.folder = folder  # under the data dir
        self.to_self = to_self  # also wake this process's own listeners
        self._sender: socket.socket | None = None
        self._own: set[str] = set()  # this process's sockets
        self._lock = threading.Lock()
        self._waiting: tuple[int, socket.socket] | None = None  # (pid, socket) for wait()

    def directory(self) -> Path:
        return Path(settings.DATA_DIR) / self.folder

    def send(self, message: bytes = b"!") -> None:
        directory = self.directory()
        try:
            names = os.listdir(directory)
        except OSError:  # nobody has listened yet
            return
        for name in names:
            path = str(directory / name)
            if not name.endswith(".sock") or (path in self._own and not self.to_self):
                continue
            try:
                self._socket().sendto(message, path)
            except (ConnectionRefusedError, FileNotFoundError):  # its process is gone
                with suppress(OSError):
                    os.unlink(path)
            except OSError as exc:  # BlockingIOError: it has a backlog to read already
                log.debug("wake-up to %s/%s not sent: %s", self.folder, name, exc)

    def _socket(self) -> socket.socket:
        with self._lock:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            return self._sender

    def _bind(self) -> tuple[socket.socket, str] | None:
        directory = self.directory()
        path = str(directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock")
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            receiver.bind(path)  # created with the process's umask, like the database
            receiver.setblocking(False)
        except OSError as exc:  # a path too long for a socket, a read-only data dir
            receiver.close()
            log.warning("no wake-ups from other processes (%s); polling instead", exc)
            return None
        self._own.add(path)
        return receiver, path

    def listen(
        self, loop: asyncio.AbstractEventLoop, on_message: Callable[[bytes], None]
    ) -> Callable[[], None]:
        """Have ``on_message`` called on ``loop`` for every datagram; returns the undo."""
        bound = self._bind()
        if bound is None:
            return lambda: None
        receiver, path = bound

        def readable() -> None:
            for data in _drain(receiver):
                on_message(data)

        loop.add_reader(receiver.fileno(), readable)

        def stop() -> None:
            loop.remove_reader(receiver.fileno())
            receiver.close()
            self._own.discard(path)
            with suppress(OSError):
                os.unlink(path)

        return stop

    def wait(self, timeout: float) -> bool:
        """Block this thread until a datagram arrives or ``timeout`` passes; True if woken.

        One socket per process (bound on first use, again after a fork), shared by its
        threads: a datagram may wake several, which then all look for work.
        """
        with self._lock:
            if self._waiting is None or self._waiting[0] != os.getpid():
                bound = self._bind()
                self._waiting = (os.getpid(), bound[0]) if bound else None
            waiting = self._waiting
        if waiting is None:  # could not bind: plain polling
            threading.Event().wait(timeout)
            return False
        receiver = waiting[1]
        readable, _, _ = select.select([receiver], [], [], timeout)
        return bool(readable) and bool(_drain(receiver))


def _drain(receiver: socket.socket) -> list[bytes]:
    """Every datagram waiting on the socket (non-blocking)."""
    received = []
    while True:
        try:
            received.append(receiver.recv(128))
        except OSError:  # BlockingIOError: read everything there was
            return received
