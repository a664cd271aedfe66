"""Runtime configuration, read from the environment only and validated at start.

Every setting has a sensible default so that a fresh checkout runs with nothing
set: SQLite and a SQLite job queue under ``./.pagedesk``. ``load_config`` raises
``ConfigError`` with one line per problem, naming the variable and what to fix.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v25.0"
SECRET_KEY_FILE = "secret_key"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ConfigError(Exception):
    """The environment does not describe a usable configuration."""


class Config(BaseSettings):
    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    data_dir: Path = Field(Path(".pagedesk"), alias="PAGEDESK_DATA_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    # PostgreSQL connections each process may hold (a pool shared by its threads);
    # 0: no pool, a connection per thread kept for a minute (behind PgBouncer, say).
    db_pool_size: int = Field(20, alias="PAGEDESK_DB_POOL_SIZE", ge=0, le=1000)
    graph_url: str = Field(DEFAULT_GRAPH_URL, alias="PAGEDESK_GRAPH_URL")
    graph_version: str = Field(DEFAULT_GRAPH_VERSION, alias="PAGEDESK_GRAPH_VERSION")
    secret_key: str | None = Field(None, alias="PAGEDESK_SECRET_KEY", repr=False)
    # Key for page tokens and app secrets at rest; derived from the secret key if unset.
    encryption_key: str | None = Field(None, alias="PAGEDESK_ENCRYPTION_KEY", repr=False)
    debug: bool = Field(False, alias="PAGEDESK_DEBUG")
    allowed_hosts: str = Field("127.0.0.1,localhost", alias="PAGEDESK_ALLOWED_HOSTS")
    max_webhook_bytes: int = Field(1_048_576, alias="PAGEDESK_MAX_WEBHOOK_BYTES", gt=0)
    # Bearer token for /metrics; unset: /metrics answers direct loopback requests only.
    metrics_token: str | None = Field(
        None, alias="PAGEDESK_METRICS_TOKEN", min_length=16, repr=False
    )

    @field_validator("database_url", "redis_url", "metrics_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in {"postgres", "postgresql", "sqlite"}:
            raise ValueError(
                f"unsupported scheme {scheme!r}: use postgresql://user@host:5432/db "
                "or sqlite:///path/to/file.sqlite3"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("must look like redis://127.0.0.1:6379/0")
        return value

    @field_validator("graph_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://graph.facebook.com")
        return value.rstrip("/")

    @field_validator("graph_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        major, dot, minor = value.removeprefix("v").partition(".")
        if not value.startswith("v") or not dot or not major.isdigit() or not minor.isdigit():
            raise ValueError("must look like v25.0")
        return value

    @property
    def sandbox_mounted(self) -> bool:
        """True when the Graph URL points at this server's own /sandbox (the demo)."""
        parts = urlsplit(self.graph_url)
        return parts.hostname in LOCAL_HOSTS and parts.path.rstrip("/") == "/sandbox"

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: queue and live updates stay in-process."""
        return self.redis_url is None

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / SECRET_KEY_FILE
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


def load_config() -> Config:
    try:
        config = Config()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "environment"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems)) from None
    return config


@lru_cache(maxsize=1)
def get_config() -> Config:
    return load_config()
