"""Configuration comes from the environment and is validated with clear messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pagedesk.config import DEFAULT_GRAPH_URL, ConfigError, load_config

VARIABLES = (
    "PAGEDESK_DATA_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "PAGEDESK_GRAPH_URL",
    "PAGEDESK_GRAPH_VERSION",
    "PAGEDESK_SECRET_KEY",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_need_nothing_set(clean_env: pytest.MonkeyPatch) -> None:
    config = load_config()
    assert config.data_dir == Path(".pagedesk")
    assert config.database_url is None
    assert config.embedded
    assert config.graph_url == DEFAULT_GRAPH_URL
    assert config.graph_version == "v25.0"


def test_secret_key_is_generated_once_and_kept(clean_env: pytest.MonkeyPatch) -> None:
    first = load_config().resolved_secret_key()
    second = load_config().resolved_secret_key()
    assert first == second
    assert len(first) >= 50
    key_file = Path(".pagedesk/secret_key")
    assert key_file.stat().st_mode & 0o077 == 0  # readable by the owner only


def test_explicit_secret_key_wins(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PAGEDESK_SECRET_KEY", "from-the-environment")
    assert load_config().resolved_secret_key() == "from-the-environment"
    assert not Path(".pagedesk/secret_key").exists()


def test_scaled_out_urls(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    clean_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    clean_env.setenv("PAGEDESK_GRAPH_URL", "http://127.0.0.1:8001/")
    config = load_config()
    assert not config.embedded
    assert config.graph_url == "http://127.0.0.1:8001"


def test_blank_values_mean_unset(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DATABASE_URL", "  ")
    clean_env.setenv("REDIS_URL", "")
    config = load_config()
    assert config.database_url is None
    assert config.redis_url is None


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "postgresql://"),
        ("REDIS_URL", "http://localhost:6379", "redis://"),
        ("PAGEDESK_GRAPH_URL", "graph.facebook.com", "http(s) URL"),
        ("PAGEDESK_GRAPH_VERSION", "25.0", "v25.0"),
        ("PAGEDESK_GRAPH_VERSION", "vX", "v25.0"),
    ],
)
def test_bad_values_name_the_variable_and_the_fix(
    clean_env: pytest.MonkeyPatch, name: str, value: str, hint: str
) -> None:
    clean_env.setenv(name, value)
    with pytest.raises(ConfigError) as excinfo:
        load_config()
    message = str(excinfo.value)
    assert name in message
    assert hint in message


def test_cli_reports_bad_configuration_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pagedesk.cli", "worker"],
        env={"PATH": "/usr/bin:/bin", "PAGEDESK_GRAPH_VERSION": "latest", "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "PAGEDESK_GRAPH_VERSION" in result.stderr
    assert "Traceback" not in result.stderr
