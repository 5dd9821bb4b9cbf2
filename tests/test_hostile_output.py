"""Names from the evidence never drive the analyst's terminal, and every JSON output is JSON.

Every command runs in every format it offers (docs/usage.md, "Output formats") on checkpoints
whose names and values were chosen by an attacker (tests/hostile.py): escape sequences, C1
controls, bidi and other format characters, newlines, lone surrogates and bytes that are not
UTF-8, in comms, file and socket names, argv, environment, config.dump/spec.dump values,
rootfs-diff member names and the archive's own name. Whatever the command, format or stream:
no internal error and no traceback; stdout and stderr are UTF-8 and hold no C0 control other
than newline and tab, no DEL, no C1 control, no surrogate and no format or separator
character; a hostile newline adds no line; JSON and JSON Lines parse; and the escapes are the
ones docs/security.md and docs/json.md document.
"""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import click
import pytest
from commands import argv as sample_argv
from commands import samples
from hostile import (
    ARCHIVE_NAME,
    BIDI,
    C1,
    CLEAR,
    COMMS,
    FILE_CONTENT,
    NEWLINE,
    OSC,
    SHOWN,
    SURROGATES,
    hostile_container,
    hostile_images,
)

from checkforensics.cli import cli, run
from checkforensics.errors import ExitCode

from conftest import FIXTURES

ALL = ("text", "table", "json", "jsonl")


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    (root / "cases").mkdir()
    (root / "cases" / f"broken-{OSC}{BIDI}.tar").write_bytes(b"not a checkpoint" * 64)  # list warns, naming it
    return {
        "C": hostile_container(root / "cases"),
        "I": hostile_images(root),
        "P": FIXTURES / "busybox-counter-criu41.tar",
        "D": root / "cases",
    }


# (name, argv with C/I/P/D for the evidence and OUT for a fresh output path, formats, exit codes)
CASES: list[tuple[str, list[str], tuple[str, ...], set[int]]] = [
    ("show", ["show", "C", "--print-stats"], ALL, {0}),
    ("show-images", ["show", "I"], ALL, {0}),
    ("inspect", ["inspect", "--all", "C"], ALL, {0}),
    ("inspect-images", ["inspect", "--all", "I"], ALL, {0}),
    ("list", ["list", "D"], ALL, {0}),
    ("ps", ["ps", "C", "--env"], ALL, {0}),
    ("ps-tree", ["ps", "C", "--tree", "--env"], ALL, {0}),
    ("ps-images", ["ps", "--tree", "I"], ALL, {0}),
    ("files", ["files", "C", "--data"], ALL, {0}),
    ("files-images", ["files", "I", "--data"], ALL, {0}),
    ("sockets", ["sockets", "I"], ALL, {0}),
    ("recover", ["recover", "I", "-o", "OUT"], ALL, {0}),
    ("diff", ["diff", "C"], ALL, {0}),
    ("diff-show", ["diff", "C", "--show", "/hostile.txt"], ("text",), {0}),
    ("diff-show-link", ["diff", "C", "--show", "/etc/link"], ("text",), {0}),
    ("diff-extract", ["diff", "C", "--extract", "OUT"], ALL, {0}),
    ("diff-two", ["diff", "P", "C", "--force", "--secrets"], ALL, {0}),
    ("logs", ["logs", "C"], ("text", "json", "jsonl"), {0}),
    ("logs-join", ["logs", "C", "--join", "--stream", "stderr"], ("text", "json", "jsonl"), {0}),
    ("coredump", ["coredump", "C", "-o", "OUT"], ALL, {0}),
    ("memgrep", ["memgrep", "C", "-e", "T=", "-e", "C=a", "--secrets"], ALL, {0}),
    ("memgrep-images", ["memgrep", "I", "-e", "marker"], ALL, {0}),
    ("memparse", ["memparse", "C"], ALL, {0}),
    ("memparse-pid", ["memparse", "C", "--pid", "21", "--vma-type", "stack"], ALL, {0}),
    ("memdump", ["memdump", "C", "--pid", "1", "-o", "OUT"], ALL, {0}),
    ("triage", ["triage", "C"], ALL, {0}),
    ("triage-images", ["triage", "I"], ALL, {0}),
    ("malfind", ["malfind", "C"], ALL, {0, 1}),
    ("malfind-images", ["malfind", "I", "--dump", "OUT"], ALL, {0, 1}),
    ("report", ["report", "C", "-o", "OUT"], ("text", "json", "jsonl"), {0}),
    ("iocs", ["iocs", "C", "--include-local"], (*ALL, "csv", "stix"), {0, 1}),
    ("iocs-images", ["iocs", "I", "--include-local"], (*ALL, "csv", "stix"), {0, 1}),
    ("timeline", ["timeline", "C", "P", "--all"], (*ALL, "csv", "bodyfile"), {0}),
    ("verify", ["verify", "C"], ALL, {0}),
    ("verify-record", ["verify", "C", "--record", "OUT"], ALL, {0}),
    *[(f"crit-x-{what}", ["crit", "x", "C", what], ("text", "json"), {0}) for what in ("ps", "fds", "mems", "rss")],
    *[(f"crit-x-{what}-images", ["crit", "x", "I", what], ("text", "json"), {0}) for what in ("ps", "fds", "mems")],
    ("crit-info", ["crit", "info", "C", "core-1.img"], ("json", "text"), {0}),
    ("crit-show", ["crit", "show", "C", "files.img"], (), {0}),
    ("crit-decode", ["crit", "decode", "-i", "C", "core-21.img", "--pretty"], (), {0}),
    ("error", ["crit", "show", "C", "no-such.img"], (), {ExitCode.USAGE, ExitCode.BAD_INPUT}),
    ("error-pid", ["ps", "C", "--pid", "99"], ("text",), {ExitCode.USAGE}),
]


def _offered(name: str) -> tuple[str, ...]:
    command = cli.get_command(click.Context(cli), name)
    option = next((p for p in command.params if p.name == "fmt"), None) if command is not None else None
    return tuple(option.type.choices) if option is not None else ()  # type: ignore[attr-defined]


# A command not listed above is still run: each sample it declares, on the hostile container, in
# every format it offers (a new command is covered without editing this list; listing it above
# adds the cases its samples do not reach).
_LISTED = {argv[0] for _, argv, _, _ in CASES}
CASES += [
    (f"{spec.name}-sample-{index}", sample_argv(spec, sample, "C"), _offered(spec.name), {0, 1})
    for index, (spec, sample) in enumerate(samples())
    if spec.name not in _LISTED and spec.takes != "other"
]
RUNS = [(name, argv, fmt, codes) for name, argv, formats, codes in CASES for fmt in formats or (None,)]


def _forbidden(char: str) -> bool:
    """Characters no output may hold raw: controls but newline and tab, DEL, C1, surrogates,
    and the format and separator characters (bidi overrides, zero widths, U+2028/9)."""
    code = ord(char)
    if char in "\n\t":
        return False
    if code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF:
        return True
    return unicodedata.category(char) in ("Cf", "Zl", "Zp")


def check_clean(text: str, where: str) -> None:
    text.encode("utf-8")  # a lone surrogate cannot be written as UTF-8
    raw = sorted({f"U+{ord(c):04X}" for c in text if _forbidden(c)})
    assert not raw, f"{where}: raw {', '.join(raw)}"


def _argv(argv: list[str], evidence: dict[str, Path], out: Path) -> list[str]:
    return [str(evidence[a]) if a in evidence else str(out) if a == "OUT" else a for a in argv]


@pytest.mark.parametrize(("name", "argv", "fmt", "codes"), RUNS, ids=[f"{r[0]}-{r[2]}" for r in RUNS])
def test_every_output_is_clean(
    name: str,
    argv: list[str],
    fmt: str | None,
    codes: set[int],
    evidence: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out_path = tmp_path / ("out.json" if "--record" in argv else "out")
    full = _argv(argv, evidence, out_path) + (["--format", fmt] if fmt else [])
    code = run(full)
    out, err = capsys.readouterr()
    assert code in codes, err
    assert "Traceback" not in err and "internal error" not in err
    check_clean(out, "stdout")
    check_clean(err, "stderr")
    if fmt == "json" or name in ("crit-show", "crit-decode"):
        json.loads(out)
    elif fmt == "jsonl":
        for line in out.splitlines():
            json.loads(line)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    run(argv)
    return capsys.readouterr()


def test_a_hostile_newline_adds_no_line(evidence: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """One line per row (and the header, and tabulate's rule), whatever the names hold."""
    container, images = str(evidence["C"]), str(evidence["I"])
    for fmt, header in (("text", 1), ("table", 2)):
        out, _ = _run(["ps", container, "--format", fmt], capsys)
        assert len(out.splitlines()) == header + len(COMMS)
        out, _ = _run(["diff", container, "--format", fmt], capsys)
        rows = json.loads(_run(["diff", container, "--format", "json"], capsys)[0])
        note = 2 if rows["hidden"] else 0  # a blank line, then how many entries the runtime made
        assert len(out.splitlines()) == header + len(rows["changed"]) + len(rows["deleted"]) + note
        out, _ = _run(["sockets", images, "--format", fmt], capsys)
        records = _run(["sockets", images, "--format", "jsonl"], capsys)[0].splitlines()
        assert len(out.splitlines()) == header + len(records)
    out, _ = _run(["crit", "x", container, "ps"], capsys)
    assert len(out.splitlines()) == 1 + len(COMMS)
    out, err = _run(["show", container], capsys)
    assert all(line.startswith("checkforensics: warning: ") for line in err.splitlines())


def test_the_documented_escapes_appear(evidence: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    container = str(evidence["C"])
    out, _ = _run(["ps", container], capsys)
    assert SHOWN[OSC] in out  # evil\x1b]0;pwned\x07, with literal backslashes
    assert SHOWN[NEWLINE] + SHOWN[BIDI] in out
    out, _ = _run(["show", container], capsys)
    assert SHOWN[OSC] + SHOWN[SURROGATES] in out  # the container's name, from config.dump
    out, _ = _run(["crit", "x", container, "ps"], capsys)
    assert SHOWN[OSC] in out
    out, _ = _run(["diff", container], capsys)
    assert "/etc/bad-\\xff\\xfe-name" in out  # a member name that is not UTF-8
    _, err = _run(["crit", "show", container, "no-such.img"], capsys)
    assert "case\\x1b]0;t\\x07\\u202e.tar" in err  # the archive's own name, in an error


def test_json_keeps_the_characters_and_escapes_them(
    evidence: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """In JSON a control, C1, bidi or format character is the character itself, written as a
    \\uNNNN escape; an undecodable byte is the text \\xNN, another lone surrogate \\uNNNN."""
    container = str(evidence["C"])
    out, _ = _run(["show", container, "--format", "json"], capsys)
    assert "\\u001b]0;pwned\\u0007" in out and "\\u202e" in out and "\\u009b" in out
    document = json.loads(out)[0]
    assert document["container"]["name"] == OSC + SHOWN[SURROGATES]
    assert document["container"]["image"] == "registry/" + BIDI + C1
    assert document["archive"].endswith(ARCHIVE_NAME)
    out, _ = _run(["diff", container, "--format", "jsonl"], capsys)
    paths = {json.loads(line)["path"] for line in out.splitlines()}
    assert {"/etc/bad-\\xff\\xfe-name", "/etc/" + OSC, "/etc/" + NEWLINE, "/etc/" + SHOWN[SURROGATES]} <= paths


def test_bytes_on_a_real_pipe_are_utf8(evidence: dict[str, Path]) -> None:
    """What the interpreter really writes to a pipe: UTF-8 (decoded strictly), JSON that parses."""
    for argv in (["diff", "C", "--format", "json"], ["show", "C", "--format", "json"], ["inspect", "--all", "C"]):
        done = subprocess.run(
            [sys.executable, "-m", "checkforensics", *_argv(argv, evidence, Path("-"))],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
        check_clean(out, "stdout")
        check_clean(err, "stderr")
        if "json" in argv:
            json.loads(out)


def test_a_traceback_asked_for_is_escaped_too(
    evidence: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--debug", "crit", "show", str(evidence["C"]), "no-such.img"]) != ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "Traceback" in err
    check_clean(err, "stderr")


def test_show_file_keeps_lines_and_tabs(evidence: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = _run(["diff", str(evidence["C"]), "--show", "/hostile.txt"], capsys)
    assert FILE_CONTENT == "first line\n\x1b]0;pwned\x07\x1b[2Jsecond\tline\r\nthird \u202eline\n"
    assert out == "first line\n\\x1b]0;pwned\\x07\\x1b[2Jsecond\tline\\x0d\nthird \\u202eline\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


_SGR = re.compile("\x1b\\[[0-9;]*m")  # rich's own colours and styles


@pytest.mark.parametrize(
    "argv",
    [["ps", "C", "--tree", "--env"], ["inspect", "--all", "C"], ["files", "C"], ["diff", "P", "C", "--force"],
     ["sockets", "I"], ["triage", "C"]],
    ids=lambda argv: "-".join(a for a in argv if len(a) > 1),
)  # fmt: skip
def test_on_a_terminal_only_richs_colours_are_escapes(
    argv: list[str], evidence: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a colour terminal rich draws with its own escapes (SGR); nothing else is raw."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert run(_argv(argv, evidence, Path("-"))) == 0
    text = terminal.getvalue()
    assert _SGR.search(text), "no colour: not drawn as on a terminal"
    check_clean(_SGR.sub("", text), "terminal")


def test_html_report_holds_the_evidence_escaped(evidence: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert run(["report", str(evidence["C"]), "-o", str(target)]) == 0
    page = target.read_bytes().decode("utf-8")
    check_clean(page, "report")
    assert html.escape(SHOWN[OSC]) in page and "\\x0aFAKE-LINE" in page


def test_files_written_are_utf8_json(evidence: dict[str, Path], tmp_path: Path) -> None:
    assert run(["recover", str(evidence["I"]), "-o", str(tmp_path / "rec")]) == 0
    manifest = (tmp_path / "rec" / "manifest.json").read_bytes().decode("utf-8")
    check_clean(manifest, "manifest.json")
    json.loads(manifest)
    record = tmp_path / f"record-{CLEAR}-\udcff.json"
    assert run(["verify", str(evidence["C"]), "--record", str(record)]) == 0
    written = record.read_bytes().decode("utf-8")
    check_clean(written, "record")
    assert json.loads(written)["path"].endswith(ARCHIVE_NAME)
    decoded = tmp_path / "core.json"
    assert run(["crit", "decode", "-i", str(evidence["C"]), "core-1.img", "-o", str(decoded)]) == 0
    json.loads(decoded.read_bytes().decode("utf-8"))
