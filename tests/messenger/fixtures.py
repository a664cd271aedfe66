"""Load the recorded webhook fixtures in ``tests/fixtures/messenger`` (see its README)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURE_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "messenger"
APP_SECRET = "fixture-app-secret"


@dataclass(frozen=True)
class Fixture:
    name: str
    description: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw_body: bytes  # the exact bytes Meta would send, and that were signed

    @property
    def signature(self) -> str:
        return self.headers["X-Hub-Signature-256"]


def serialise_body(body: Any) -> bytes:
    """Serialise a body the way Meta does: compact, non-ASCII escaped."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()


def load_fixture(name: str) -> Fixture:
    data = json.loads((FIXTURE_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return Fixture(
        name=name,
        description=data["description"],
        headers=data["headers"],
        body=data["body"],
        raw_body=serialise_body(data["body"]),
    )


def all_fixture_names() -> list[str]:
    return sorted(path.stem for path in FIXTURE_DIR.glob("*.json"))
