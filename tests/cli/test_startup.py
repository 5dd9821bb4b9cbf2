"""Start-up is most of a small command's time (benchmarks/bench_startup.py measures it against
checkpointctl): each command imports what it needs and nothing else. These tests fail loudly
when a command's import set grows past what it was built to need."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from checkforensics.cli import cli, command_names, command_summary
from tests.conftest import FIXTURES

COUNTERS = str(FIXTURES / "counters-blog.tar")

# What no command that answers a metadata or process question needs.
MEMORY = (
    "checkforensics.model.regions",
    "checkforensics.model.view",
    "checkforensics.model.shared",
    "checkforensics.model.pages",
)
ANALYSES = (
    "checkforensics.analysis.memsearch",
    "checkforensics.analysis.secrets",
    "checkforensics.analysis.secretscan",
    "checkforensics.analysis.triage",
    "checkforensics.analysis.rootfs",
    "checkforensics.analysis.compare",
    "checkforensics.analysis.coredump",
    "checkforensics.report",
)
DRAWING = ("rich", "tabulate")  # for a terminal or --format table only
TEMPLATES = ("jinja2", "markupsafe")  # the HTML report's only
DESCRIPTORS = ("checkforensics.model.files", "checkforensics.model.descriptions")


def _imported(argv: list[str]) -> set[str]:
    """Every module ``checkforensics ARGV`` imported, run in a fresh interpreter with its output
    piped (as scripts and pipelines run it)."""
    code = (
        "import sys\nfrom checkforensics.cli import run\ncode = run(sys.argv[1:])\n"
        "sys.stdout.flush()\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)\nsys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return set(done.stderr.splitlines()[-1].split())


def _under(modules: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)}


def test_the_command_list_is_each_commands_own_short_help() -> None:
    """``--help`` lists the commands with the summary read from each module's file, without
    importing them: it must be what each command says of itself."""
    context = click.Context(cli)
    assert len(command_names()) >= 19  # every command found, none lost in the discovery
    for name in command_names():
        assert command_summary(name) == cli.get_command(context, name).get_short_help_str(10**6), name


def test_help_imports_no_command() -> None:
    modules = _imported(["--help"])
    assert not {m for m in modules if m.startswith("checkforensics.cli.")}
    assert not _under(modules, ("checkforensics.archive", "checkforensics.model", "checkforensics.analysis"))
    assert not _under(modules, ("google", *DRAWING, *TEMPLATES))
    # the package's names load with their modules: listing commands writes no table, tree or JSON
    writers = ("tables", "trees", "jsonout", "write", "answers")
    assert not _under(modules, tuple(f"checkforensics.render.{name}" for name in writers))
    assert "checkforensics.records.values" not in modules


@pytest.mark.parametrize("command", ["show", "ps"])
def test_the_everyday_commands_help_opens_nothing(command: str) -> None:
    modules = _imported([command, "--help"])
    assert not _under(modules, ("checkforensics.archive", "checkforensics.images", "checkforensics.model"))
    # the renderer's vocabulary (records.values) is imported with it; no record form or declaration is
    records = ("checkforensics.records.declare", "checkforensics.records.forms")
    assert not _under(modules, ("checkforensics.analysis", *records, "google", *DRAWING, *TEMPLATES))


def test_any_commands_help_decodes_nothing() -> None:
    modules = _imported(["files", "--help"])
    decoding = ("google.protobuf.descriptor_pool", "checkforensics.images.pb")  # the protobuf runtime and messages
    assert not _under(modules, (*decoding, *DRAWING, *MEMORY, *ANALYSES, *TEMPLATES))


def test_show_reads_metadata_only() -> None:
    modules = _imported(["show", COUNTERS])
    assert not _under(modules, (*MEMORY, *ANALYSES, *DRAWING, *DESCRIPTORS, *TEMPLATES))
    assert not _under(modules, ("checkforensics.model.memory", "checkforensics.model.mappings"))


@pytest.mark.parametrize("argv", [["ps", COUNTERS, "--tree"], ["ps", COUNTERS], ["ps", COUNTERS, "--format", "json"]])
def test_ps_lays_out_no_descriptors_and_draws_without_rich(argv: list[str]) -> None:
    modules = _imported(argv)
    assert not _under(modules, (*ANALYSES, *DRAWING, *DESCRIPTORS, *TEMPLATES, "checkforensics.model.shared"))


@pytest.mark.parametrize("command", ["files", "sockets"])
def test_descriptor_commands_touch_no_memory(command: str) -> None:
    modules = _imported([command, COUNTERS])
    assert not _under(modules, (*MEMORY, *ANALYSES, *DRAWING, *TEMPLATES, "checkforensics.model.mappings"))


def test_inspect_all_piped_draws_without_rich() -> None:
    modules = _imported(["inspect", COUNTERS, "--all"])
    assert not _under(modules, (*ANALYSES, *DRAWING, *TEMPLATES, "checkforensics.model.shared"))


@pytest.mark.parametrize("argv", [["triage", COUNTERS, "--no-secrets"], ["diff", COUNTERS, "--format", "json"]])
def test_only_the_report_loads_the_template_engine(argv: list[str]) -> None:
    """The commands that share the report's analyses do not pay for its templates."""
    assert not _under(_imported(argv), TEMPLATES)
