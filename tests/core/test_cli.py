"""The `pagedesk` command: help on every subcommand."""

from __future__ import annotations

import pytest

from pagedesk.cli import build_parser, main

SUBCOMMANDS = ["up", "web", "worker", "sandbox"]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main([name, "--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: pagedesk {name}" in out
    assert "--port" in out or "--workers" in out


def test_top_level_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in [*SUBCOMMANDS, "manage"]:
        assert name in out


def test_manage_passes_through_to_django(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manage", "check"]) == 0
    assert "no issues" in capsys.readouterr().out


def test_no_subcommand_is_an_error() -> None:
    with pytest.raises(SystemExit) as excinfo:
        build_parser().parse_args([])
    assert excinfo.value.code == 2
