"""Commands declared once.

A command is one module of ``checkforensics.cli.commands``, named as the command. Its docstring
is the command's help (the first line its summary: ``checkforensics --help`` reads it from the
file, importing no command), and one declaration, ``@command(...)``, says the rest: what the
command reads of a checkpoint, its options, and a function that asks the analysis and returns
an ``Answer`` of declared records. The declaration parses the options, opens the model, calls
the function, hands the answer to the renderer and returns the exit code; the function is the
command's own part, options in and records out, about 10 to 30 lines.

What the tests run every command with (``samples``) is declared here too, so the command
matrices of tests (every command on every real dump, damaged archives, one pass over a
compressed archive) are derived from the declarations.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from checkforensics.cli.options import checkpoint_argument, output_options
from checkforensics.render import FORMATS, JSON, JSONL
from checkforensics.render.exports import Export

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

READS = ("memory", "images", "container", "everything", "sha256")  # names of model.Reads, lower-case


@dataclass(frozen=True)
class CommandSpec:
    """What a command declares besides its click options.

    - ``reads``: what of a checkpoint it reads besides its small images (``model.Reads``).
    - ``takes``: ``checkpoint`` (one), ``checkpoints`` (one or more, or directories of them),
      or ``other`` (its own arguments: ``list``, ``crit``, ``completion``).
    - ``samples``: argument lists the tests run it with on real dumps (after the checkpoint); ``OUT`` stands
      for a fresh output path, ``PID`` for the dump's first process with memory.
    - ``records``: the record types it answers with, as ``module:NAME`` (imported only by the tests and docs).
    """

    name: str
    reads: tuple[str, ...] = ()
    takes: str = "checkpoint"
    samples: tuple[tuple[str, ...], ...] = ((),)
    records: tuple[str, ...] = ()
    json: bool = True
    answers: bool = False  # answers with declared records (``@command``): nothing found is said one way


@dataclass(frozen=True)
class Output:
    """A command's output path (``-o DIR`` or ``-o FILE``, with ``--force``), declared once: the
    path is checked against the evidence before any work (docs/security.md), and the command's
    function gets a ``Destination`` to write through (None when the option was not given)."""

    help: str
    directory: bool = True
    required: bool = True
    flags: tuple[str, ...] = ("-o", "--output")
    force_help: str = "Write into a directory that is not empty."
    force: bool = True  # False: no --force of its own (the command's --force means something else), never overwrite

    def options(self) -> list[Decorator]:
        path = click.option(*self.flags, "output", required=self.required, type=click.Path(), help=self.help)
        return [path, click.option("--force", is_flag=True, help=self.force_help)] if self.force else [path]


def spec_of(command: click.Command) -> CommandSpec:
    """The declaration of ``command`` (one made with ``declared`` or ``command``)."""
    spec = getattr(command, "spec", None)
    if spec is None:
        raise LookupError(f"command {command.name!r} has no declaration")
    return spec


def declared(
    command: click.Command,
    *,
    reads: Sequence[str] = (),
    takes: str = "checkpoint",
    samples: Sequence[Sequence[str]] = ((),),
    records: Sequence[str] = (),
    json: bool = True,
    answers: bool = False,
) -> click.Command:
    """Attach a declaration to a click command built another way (a group such as ``crit``)."""
    command.spec = CommandSpec(  # type: ignore[attr-defined]
        command.name or "", tuple(reads), takes, tuple(tuple(s) for s in samples), tuple(records), json, answers
    )
    return command


def command(
    *,
    reads: Sequence[str] | Callable[..., Sequence[str]] = (),
    options: Sequence[Decorator] = (),
    samples: Sequence[Sequence[str]] = ((),),
    records: Sequence[str] = (),
    formats: tuple[str | Export, ...] = FORMATS,
    hash_for_json: bool = False,
    output: Output | None = None,
    takes: str = "checkpoint",
    prepare: Callable[..., dict[str, Any]] | None = None,
    tap: Callable[..., Any] | None = None,
    metavar: str | None = None,
    with_format: bool = False,
    format_aliases: dict[str, str] | None = None,
    merge: Callable[..., Answer] | None = None,
) -> Callable[[Callable[..., Answer]], click.Command]:
    """Declare the command of the calling module: ``ask(model, **options) -> Answer``.

    The module's name is the command's name and its docstring the help. ``takes``:
    ``checkpoint``, or ``checkpoints`` (one or more, or directories of them: each is asked in
    turn and the answers written as one, each record naming its ``archive``). ``reads`` names what
    of the checkpoint it reads (``memory``, ``images``, ``container``, ``everything``, ``sha256``);
    (or a function of the options giving those names); ``hash_for_json``: the evidence hash is
    made in the one pass when the output is JSON. ``prepare``: a function of the options (the
    checkpoints as given among them) called once before any checkpoint is opened, giving the
    options to go on with: a usage error raised there costs no reading, and a command whose
    arguments mix checkpoints and other words sorts them there (memgrep's patterns).
    ``tap``: a function of the options giving, afresh for each checkpoint, the tap its listing
    pass feeds (``CheckpointModel.open``; memgrep's screen), handed to the function as ``tap``.
    ``metavar``: how help names the checkpoints, where ``prepare`` takes other words among them.
    ``with_format``: the function (and a ``reads``
    function) is also given ``fmt``, for what it reads only for some formats (the command lines
    every JSON process record holds, a tree shows only when asked); ``format_aliases``: old names
    of formats still accepted (``tree`` for ``text``). ``formats``: the usual ones by name and
    ``Export``s, formats with writers of their own (``render.exports``: CSV, a STIX bundle, a
    body file); one whose optional package is missing stops the command before any checkpoint
    is opened (UNSUPPORTED, exit 4). ``merge``: with ``takes="checkpoints"``, the answers of
    every checkpoint are made into one by ``merge(answers, **options)`` (each section's
    ``context`` naming its checkpoint) and written as one answer (``timeline``), not one after
    the other."""
    exports = {f.name: f for f in formats if isinstance(f, Export)}
    for name in reads if not callable(reads) else ():
        if name not in READS:
            raise ValueError(f"reads: {name!r} is not one of {', '.join(READS)}")

    def wrap(ask: Callable[..., Answer]) -> click.Command:
        module = sys.modules[ask.__module__]
        name = module.__name__.rpartition(".")[2]

        def callback(fmt: str, **chosen: Any) -> int:
            from checkforensics import progress

            export = exports.get(fmt)
            if export is not None and export.missing():
                from checkforensics.errors import UnsupportedError

                raise UnsupportedError(str(export.missing()))
            if prepare is not None:
                chosen = prepare(**chosen)
            given = chosen.pop("checkpoints") if takes == "checkpoints" else (chosen.pop("checkpoint"),)
            if output is not None:
                force = chosen.pop("force") if output.force else False
                chosen["output"] = _destination(given[0], chosen.pop("output"), force)
            if with_format:
                chosen["fmt"] = fmt
            wanted = reads(**chosen) if callable(reads) else reads
            flags = _reads(wanted, hash_for_json and fmt in (JSON, JSONL))
            with progress.quiet_while_streaming(fmt in (JSON, JSONL)):  # no bar over records streamed
                if takes == "checkpoints":
                    return _several(given, ask, flags, chosen, fmt, tap, export, merge)
                with _opened(given[0], flags, tap, chosen) as (model, options):
                    return answer_with(model, ask(model, **options), fmt, export)

        function: Callable[..., Any] = callback
        written = output.options() if output is not None else []
        argument = checkpoint_argument(multiple=takes == "checkpoints", metavar=metavar)
        for option in reversed([argument, *options, *written, output_options(formats, aliases=format_aliases)]):
            function = option(function)
        built = click.command(name=name, help=module.__doc__)(function)
        static = () if callable(reads) else reads
        return declared(
            built, reads=static, takes=takes, samples=samples, records=records, json=JSON in formats, answers=True
        )

    return wrap


def answer_with(
    model: CheckpointModel, asked: Answer | Iterator[Answer], fmt: str, export: Export | None = None
) -> int:
    """Write the answer (the model still open: its records may read it as they are written),
    with the answer's warnings and then the model's diagnostics; the exit code."""
    from checkforensics.render.answers import write_answer

    with _answer_of(asked, model) as answer:
        return write_answer(answer, fmt, warnings=lambda: told(answer, model), export=export)


@contextlib.contextmanager
def _answer_of(asked: Answer | Iterator[Answer], model: CheckpointModel) -> Iterator[Answer]:
    """The answer a command's function gave, its records in the context of ``model``'s checkpoint.
    The function may also be a generator that yields its one answer from inside the ``with``
    blocks its records need open (a log being read): it is closed when the answer is done with."""
    answer = next(asked) if isinstance(asked, Iterator) else asked
    try:
        for section in answer.sections:
            section.context.setdefault("archive", str(model.path))
        yield answer
    finally:
        if isinstance(asked, Generator):
            asked.close()


def told(answer: Answer, model: CheckpointModel) -> list[str]:
    """The warnings of a command's answer: the answer's own, then what the model's parts said
    and was not told yet (about the processes ``answer.about`` only, when it names them), each once.
    What the archive's listing found wrong (a truncated archive, a limit) is said by every command."""
    model.say_listing()
    return list(dict.fromkeys([*answer.warnings, *model.diagnostics.untold(answer.about)]))


@contextlib.contextmanager
def _opened(
    path: Any, flags: Any, tap: Callable[..., Any] | None, chosen: dict[str, Any]
) -> Iterator[tuple[CheckpointModel, dict[str, Any]]]:
    """The checkpoint at ``path`` open, and the options to ask it with (with ``tap``: the tap
    made for it, which its listing pass fed)."""
    from checkforensics.model import CheckpointModel

    made = tap(**chosen) if tap is not None else None
    with CheckpointModel.open(path, made, reads=flags) as model:
        yield model, ({**chosen, "tap": made} if tap is not None else chosen)


def _several(
    given: Sequence[str],
    ask: Callable[..., Any],
    flags: Any,
    chosen: dict[str, Any],
    fmt: str,
    tap: Callable[..., Any] | None = None,
    export: Export | None = None,
    merge: Callable[..., Answer] | None = None,
) -> int:
    """Each checkpoint (or each one in a directory given) asked in turn and the answers
    written as one (``merge``: made one answer first); with several, one that cannot be read
    is a warning, and exit 3 at the end."""
    from checkforensics.cli.options import CheckpointRuns
    from checkforensics.render.answers import write_answer, write_answers

    runs = CheckpointRuns(tuple(given))
    if merge is not None:
        whole = []
        for path in runs:
            with runs.reading(path), _opened(path, flags, tap, chosen) as (model, options):
                answer = _whole(model, ask(model, **options))
                runs.warn(path, told(answer, model))
            if not runs.failed(path):
                whole.append(answer)
        merged = merge(whole, **chosen)
        code = write_answer(merged, fmt, warnings=lambda: runs.warnings, export=export)
        return runs.exit_code(found=code == 0)
    if not runs.several:
        with _opened(runs.paths[0], flags, tap, chosen) as (model, options):
            return answer_with(model, ask(model, **options), fmt, export)

    def answers() -> Iterator[Answer]:
        for path in runs:
            with runs.reading(path), _opened(path, flags, tap, chosen) as (model, options):
                answer = _whole(model, ask(model, **options))
                runs.warn(path, told(answer, model))
            if not runs.failed(path):
                yield answer

    code = write_answers(answers(), fmt, warnings=lambda: runs.warnings, export=export)
    return runs.exit_code(found=code == 0)


def _whole(model: CheckpointModel, asked: Answer | Iterator[Answer]) -> Answer:
    """The answer with every section's items read while its checkpoint is open."""
    with _answer_of(asked, model) as answer:
        for section in answer.sections:
            section.items = list(section.items)
    return answer


def _destination(checkpoint: str, path: str | None, force: bool) -> Destination | None:
    """The output path checked against the evidence now, before any work; None when not given."""
    if path is None:
        return None
    from checkforensics.output import Destination, OutputGuard

    guard = OutputGuard(checkpoint)
    guard.check(path)
    return Destination(guard, path, force)


def _reads(names: Sequence[str], sha256: bool) -> Any:
    from checkforensics.model import Reads

    flags = Reads.NOTHING
    for name in names:
        flags |= Reads[name.upper()]
    return flags | Reads.SHA256 if sha256 else flags
