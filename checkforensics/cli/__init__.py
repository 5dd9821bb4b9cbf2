"""The ``checkforensics`` command line: a click group and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import sys

import click

from checkforensics import __version__, progress
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.render import print_error, printable

_debug = False


class _PipeClosed(Exception):
    """The reader of our output went away (``| head``): stop quietly."""


# Each command's module is imported only when that command runs (or help lists it), so a
# command pays only for what it uses. Add new commands here: name -> "module:attribute".
COMMANDS = {
    "show": "show:show",
    "inspect": "inspect:inspect",
    "list": "listing:list_checkpoints",
    "ps": "ps:ps",
    "files": "files:files",
    "sockets": "files:sockets",
    "recover": "files:recover",
    "diff": "diff:diff",
    "logs": "logs:logs",
    "coredump": "coredump:coredump",
    "memgrep": "memgrep:memgrep",
    "memparse": "memparse:memparse",
    "memdump": "memparse:memdump",
    "malfind": "malfind:malfind_command",
    "triage": "triage:triage_command",
    "report": "report:report",
    "verify": "verify:verify",
    "completion": "completion:completion",
    "crit": "crit:crit",
}


# The one-line help ``checkforensics --help`` lists, so that listing the commands imports none
# of them (tests/cli/test_startup.py holds it equal to each command's own short help). A command
# missing here is imported for the listing, as before.
COMMAND_HELP = {
    "completion": "Print the completion script for a shell.",
    "coredump": "Turn each checkpointed process into an ELF core file (DIR/core.PID) for gdb.",
    "crit": "CRIU image tool: crit's decode, encode, show, info and x, with archive support.",
    "diff": "What the container changed on disk; with two checkpoints, everything that changed between them.",
    "files": "List every open descriptor: files (deleted ones marked), pipes, sockets, and more.",
    "inspect": "Inspect checkpoints in depth, as a tree: metadata, mounts, statistics, processes, files.",
    "list": "List the checkpoints in directories (default: the kubelet's and Podman's places).",
    "logs": "The container's log (stdout and stderr) as the checkpoint kept it.",
    "malfind": "Memory that looks like injected or hidden code, per process.",
    "memdump": "Write a process's dumped memory, or one mapping of it, to a file (exit 1 when there is none).",
    "memgrep": "Search the memory of every process for strings or regexes (exit 1 when nothing matched).",
    "memparse": "Memory sizes of every process; with --pid, a hexdump of its memory (checkpointctl memparse).",
    "ps": "List the checkpointed processes with their command lines (read from memory).",
    "recover": "Write every piece of in-flight data to its own file, with a manifest.",
    "report": "Write a self-contained HTML report: summary, hashes, triage, malfind, processes, files, changes, "
    "memory maps.",
    "show": "Show what was checkpointed: container, image, engine, network, sizes; for a Kubernetes checkpoint "
    "also the pod, its namespace and UID and the sandbox.",
    "sockets": "List sockets: UNIX, TCP/UDP over IPv4 and IPv6, netlink, packet.",
    "triage": "What deserves a look first, each finding with its rule and the evidence behind it.",
    "verify": "Print, record or check the SHA-256 of a checkpoint (exit 1 when it does not match).",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from ``COMMAND_HELP``: no command module is imported to print
        ``--help`` (a command missing from the table is listed click's own way, by importing)."""
        names = self.list_commands(ctx)
        if not all(name in COMMAND_HELP for name in names):
            super().format_commands(ctx, formatter)
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = [(name, click.utils.make_default_short_help(COMMAND_HELP[name], limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(f"checkforensics.cli.{module}"), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        # click turns EPIPE into exit status 1 itself; catch it first and end cleanly instead.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise _PipeClosed() from None


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run 'checkforensics COMMAND --help' for a command's options and an example.",
)
@click.version_option(__version__, "-V", "--version", prog_name="checkforensics")
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
@click.option("--no-progress", is_flag=True, help="No progress bars (they only ever show on a terminal).")
@click.option(
    "--max-expansion",
    metavar="SIZE",
    help="Let a compressed archive expand to SIZE bytes (K, M, G, T suffixes) in one pass, instead of 64 times "
    "its size or 1 GiB, whichever is more (docs/security.md, Limits).",
)
@click.option(
    "--tmpdir",
    metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    help="Where a compressed archive's memory is spooled for a command that reads it (an unlinked file, freed "
    "at exit), instead of $CHECKFORENSICS_TMPDIR or $TMPDIR or /tmp (docs/usage.md, Temporary files).",
)
def cli(debug: bool, no_progress: bool, max_expansion: str | None, tmpdir: str | None) -> None:
    """Forensic analysis of CRIU container checkpoints (Kubernetes, Podman, criu dump -D).

    \b
    Example:
      checkforensics crit show checkpoint.tar.zst pstree.img
    """
    global _debug
    _debug = debug
    progress.activate(not no_progress)
    if max_expansion is not None or "checkforensics.archive.decompression" in sys.modules:  # else nothing to reset
        from checkforensics.archive.decompression import allow_expansion

        allow_expansion(_size(max_expansion) if max_expansion is not None else None)
    if tmpdir is not None or "checkforensics.archive.spool" in sys.modules:
        from checkforensics.archive import spool

        spool.use_directory(tmpdir)
        spool.notes.clear()


_SUFFIXES = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


def _size(text: str) -> int:
    """``SIZE`` as bytes: a number, optionally followed by K, M, G or T (powers of 1024)."""
    number, suffix = text.strip().upper().removesuffix("B").removesuffix("I"), ""
    if number[-1:] in _SUFFIXES:
        number, suffix = number[:-1], number[-1]
    if not number.isdigit():
        raise click.BadParameter(f"{text!r} is not a size such as 4G or 1073741824", param_hint="--max-expansion")
    return int(number) << _SUFFIXES[suffix]




def _quiet_broken_pipe() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _fail(message: str, code: int) -> int:
    """One line on stderr; the message names members and values from the evidence, so it is
    escaped like every output (render.printable)."""
    print_error(message)
    return code


def _to_stderr(text: str) -> None:
    """Text made of several lines (click's usage errors, a traceback), each escaped; lines end
    at newlines only (str.splitlines would also end one at U+2028 or a C1 NEL)."""
    lines = text.removesuffix("\n").split("\n") if text else []
    sys.stderr.write("".join(printable(line) + "\n" for line in lines))


def _traceback() -> None:
    import traceback

    _to_stderr(traceback.format_exc())


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code instead of exiting (used by main and tests)."""
    global _debug
    _debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        return _run(argv)
    finally:
        if _debug:
            _debug_notes()


def _debug_notes() -> None:
    """With --debug: what the spools of compressed archives did (used, or why not), on stderr."""
    spool = sys.modules.get("checkforensics.archive.spool")
    if spool is not None:
        with contextlib.suppress(OSError, ValueError):
            _to_stderr("".join(f"debug: {note}\n" for note in spool.notes))


def _run(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="checkforensics", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Abort:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        _to_stderr(shown.getvalue())
        return exc.exit_code
    except CheckforensicsError as exc:
        if _debug:
            _traceback()
        return _fail(str(exc), exc.exit_code)
    except (BrokenPipeError, _PipeClosed):
        _quiet_broken_pipe()
        return ExitCode.OK
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except OSError as exc:
        if _debug:
            _traceback()
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", ExitCode.BAD_INPUT)
    except MemoryError:
        return _fail("out of memory", ExitCode.BAD_INPUT)
    except Exception as exc:  # a bug in checkforensics, never the user's fault
        if _debug:
            _traceback()
        return _fail(
            f"internal error ({type(exc).__name__}: {exc}); rerun with --debug and report it",
            ExitCode.INTERNAL,
        )


def main() -> None:
    """Console-script entry point."""
    code = run()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    sys.exit(code)
