"""Every command explains itself: a one-line summary, and an example in its --help."""

from __future__ import annotations

import click
import pytest

from checkforensics import __version__
from checkforensics.cli import cli, run


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Example" in out, f"{' '.join(path)} --help has no example"
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None
        command = found
    assert command.get_short_help_str(200).strip(), f"{' '.join(path)} has no summary"


def test_help_uses_no_private_click_api(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """click marked utils.make_default_short_help private (pallets/click#3250): newer clicks warn
    on each use, once per command (19 warnings in a test run). The command list must not need it."""
    import click.utils

    def private(*args: object, **kwargs: object) -> str:
        raise AssertionError("click.utils.make_default_short_help is click's private API")

    monkeypatch.setattr(click.utils, "make_default_short_help", private)
    assert run(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "triage      What deserves a look first, each finding with its rule and..." in listed


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_bare_checkforensics_prints_its_usage_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """As checkpointctl does: what there is to run, on stdout, and no error."""
    assert run([]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("Usage: checkforensics [OPTIONS] COMMAND [ARGS]...")
    examples = out.split("Examples:\n")[1].split("\n\n")[0].split("\n")  # what a newcomer runs first
    assert [line.split()[:2] for line in examples] == [["checkforensics", c] for c in ("show", "triage", "ps")]
    assert run(["--help"]) == 0
    assert capsys.readouterr().out == out  # the same as --help
    assert run(["--no-color"]) == 0 and capsys.readouterr().out == out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["completion", shell]) == 0
    out = capsys.readouterr().out
    assert "_CHECKFORENSICS_COMPLETE" in out and f"{shell}_complete" in out


def test_completion_completes_commands(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("_CHECKFORENSICS_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "checkforensics tri")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit):
        cli.main(prog_name="checkforensics")
    assert "triage" in capsys.readouterr().out
