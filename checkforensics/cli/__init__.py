"""The ``checkforensics`` command line: a click group and the one place errors become exit codes."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import sys
from pathlib import Path

import click

from checkforensics import __version__, progress
from checkforensics.errors import CheckforensicsError, ExitCode
from checkforensics.render import print_error, printable

_debug = False


class _PipeClosed(Exception):
    """The reader of our output went away (``| head``): stop quietly."""


COMMANDS_DIRECTORY = Path(__file__).parent / "commands"
_DOCSTRING = re.compile(r'\A\s*(?:#[^\n]*\n\s*)*[rRbBuU]?"""(.*?)(?:\n\s*\n|""")', re.DOTALL)


def command_names() -> list[str]:
    """The commands: the modules of ``checkforensics.cli.commands`` (found, not listed)."""
    return sorted(
        path.stem for path in COMMANDS_DIRECTORY.glob("*.py") if not path.stem.startswith("_")
    )


def command_summary(name: str) -> str:
    """The first paragraph of a command module's docstring, read from the file: listing the
    commands imports none of them (start-up is most of a small command's time)."""
    source = (COMMANDS_DIRECTORY / f"{name}.py").read_text(encoding="utf-8")
    found = _DOCSTRING.match(source)
    return " ".join(found.group(1).split()) if found else ""


def load_command(name: str) -> click.Command | None:
    """The click command of the module ``name``: the one it defines under that name, taking
    the display options (``display_options``) as the group does."""
    if name not in command_names():
        return None
    module = importlib.import_module(f"checkforensics.cli.commands.{name}")
    found = {id(v): v for v in vars(module).values() if isinstance(v, click.Command) and v.name == name}
    found = list(found.values())
    if len(found) != 1:
        raise RuntimeError(f"checkforensics.cli.commands.{name} defines {len(found)} commands, not one")
    _take_display_options(found[0])
    return found[0]


def _set_color(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        from checkforensics.render.console import use_color

        use_color(value)


def _set_no_color(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _set_color(ctx, param, "never")


def _set_no_progress(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        progress.activate(False)


def display_options() -> list[click.Option]:
    """How the output looks, for the whole run: taken by the group and by every command, so
    each may come before the command or after it (the last given wins; ``run`` starts every
    run at ``--color auto`` with bars on)."""
    return [
        click.Option(
            ["--color"],
            type=click.Choice(["auto", "always", "never"]),
            metavar="WHEN",
            expose_value=False,
            callback=_set_color,
            help="Colour: auto (on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it), always (also into a "
            "pipe, for less -R), never.",
        ),
        click.Option(["--no-color"], is_flag=True, expose_value=False, callback=_set_no_color,
                     help="No colour, even on a terminal: --color never."),
        click.Option(["--no-progress"], is_flag=True, expose_value=False, callback=_set_no_progress,
                     help="No progress bars (they only ever show on a terminal)."),
    ]


def _take_display_options(command: click.Command) -> None:
    """``command`` (and, for a group such as ``crit``, each of its commands) takes the display
    options, once."""
    if not any(param.name == "color" for param in command.params):
        command.params.extend(display_options())
    for sub in getattr(command, "commands", {}).values():
        _take_display_options(sub)


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*command_names(), *self.commands})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, each command's summary read from its module: no command module is
        imported to print ``--help``."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names))
        # shortened by click's public Command.get_short_help_str, on a command that only holds the
        # summary (click.utils.make_default_short_help is private, and newer clicks warn of it)
        rows = [(name, click.Command(name, help=command_summary(name)).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            command = load_command(cmd_name)
            if command is None:
                return None
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
    params=display_options(),
    invoke_without_command=True,  # bare: the usage, exit 0 (as checkpointctl), not a usage error
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run 'checkforensics COMMAND --help' for a command's options and an example.",
)
@click.version_option(__version__, "-V", "--version", prog_name="checkforensics")
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
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
def cli(debug: bool, max_expansion: str | None, tmpdir: str | None) -> None:
    """Forensic analysis of CRIU container checkpoints (Kubernetes, Podman, criu dump -D).

    \b
    Examples:
      checkforensics show checkpoint.tar.zst      what was checkpointed
      checkforensics triage checkpoint.tar.zst    what deserves a look first
      checkforensics ps checkpoint.tar.zst        the processes and their command lines
    """
    global _debug
    _debug = debug
    context = click.get_current_context()
    if context.invoked_subcommand is None:  # no command given: what there is, on stdout
        click.echo(context.get_help())
        context.exit(0)
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
        # what a run's options set for the whole process ends with the run: display, the
        # expansion limit, the spool's directory (a caller running the archive layer next, or
        # another run, starts from the defaults)
        if "checkforensics.render.console" in sys.modules:
            sys.modules["checkforensics.render.console"].use_color("auto")
        if "checkforensics.archive.decompression" in sys.modules:
            sys.modules["checkforensics.archive.decompression"].allow_expansion(None)
        if "checkforensics.archive.spool" in sys.modules:
            sys.modules["checkforensics.archive.spool"].use_directory(None)


def _debug_notes() -> None:
    """With --debug: what the spools of compressed archives did (used, or why not), on stderr."""
    spool = sys.modules.get("checkforensics.archive.spool")
    if spool is not None:
        with contextlib.suppress(OSError, ValueError):
            _to_stderr("".join(f"debug: {note}\n" for note in spool.notes))


def _run(argv: list[str] | None) -> int:
    from checkforensics.render.console import use_color

    use_color("auto")  # what the display options change, as each run starts
    progress.activate(True)
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
