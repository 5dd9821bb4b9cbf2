"""The ``checkforensics`` command line: a click group and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
import traceback

import click

from checkforensics import __version__
from checkforensics.errors import CheckforensicsError, ExitCode

_debug = False


class _PipeClosed(Exception):
    """The reader of our output went away (``| head``): stop quietly."""


class _Group(click.Group):
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
def cli(debug: bool) -> None:
    """Forensic analysis of CRIU container checkpoints (Kubernetes, Podman, criu dump -D).

    \b
    Example:
      checkforensics crit show checkpoint.tar.zst pstree.img
    """
    global _debug
    _debug = debug


def _register_commands() -> None:
    from checkforensics.cli.completion import completion
    from checkforensics.cli.coredump import coredump
    from checkforensics.cli.crit import crit
    from checkforensics.cli.diff import diff
    from checkforensics.cli.files import files, recover, sockets
    from checkforensics.cli.inspect import inspect
    from checkforensics.cli.listing import list_checkpoints
    from checkforensics.cli.ps import ps
    from checkforensics.cli.report import report
    from checkforensics.cli.show import show
    from checkforensics.cli.triage import triage_command
    from checkforensics.cli.verify import verify

    cli.add_command(show)
    cli.add_command(inspect)
    cli.add_command(list_checkpoints)
    cli.add_command(ps)
    cli.add_command(files)
    cli.add_command(sockets)
    cli.add_command(recover)
    cli.add_command(diff)
    cli.add_command(coredump)
    cli.add_command(verify)
    cli.add_command(triage_command)
    cli.add_command(report)
    cli.add_command(completion)
    cli.add_command(crit)


_register_commands()


def _quiet_broken_pipe() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _fail(message: str, code: int) -> int:
    click.echo(f"checkforensics: error: {message}", err=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code instead of exiting (used by main and tests)."""
    global _debug
    _debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        result = cli.main(args=argv, prog_name="checkforensics", standalone_mode=False)
        return int(result) if isinstance(result, int) else ExitCode.OK
    except click.exceptions.Abort:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except CheckforensicsError as exc:
        if _debug:
            traceback.print_exc()
        return _fail(str(exc), exc.exit_code)
    except (BrokenPipeError, _PipeClosed):
        _quiet_broken_pipe()
        return ExitCode.OK
    except KeyboardInterrupt:
        return _fail("interrupted", ExitCode.INTERRUPTED)
    except OSError as exc:
        if _debug:
            traceback.print_exc()
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", ExitCode.BAD_INPUT)
    except MemoryError:
        return _fail("out of memory", ExitCode.BAD_INPUT)
    except Exception as exc:  # a bug in checkforensics, never the user's fault
        if _debug:
            traceback.print_exc()
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
