"""The HTML report: self-contained, every section filled, secrets redacted; rendered in Chromium when installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from checkforensics.cli import run

from conftest import FIXTURES

SECTIONS = ("summary", "triage", "processes", "files", "sockets", "rootfs", "secrets", "memory")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("id"):
            self.sections.append(values["id"] or "")
        for key in ("src", "href"):
            if values.get(key):
                self.external.append(f"{tag} {key}={values[key]}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _report(tmp_path: Path, *extra: str) -> tuple[str, _Collector]:
    out = tmp_path / "report.html"
    assert run(["report", str(FIXTURES / "counters-blog.tar"), "-o", str(out), *extra]) == 0
    page = out.read_text()
    collector = _Collector()
    collector.feed(page)
    return page, collector


def test_report_is_self_contained_with_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page, parsed = _report(tmp_path)
    capsys.readouterr()
    assert parsed.sections[: len(SECTIONS)] == list(SECTIONS)
    assert parsed.external == []  # no scripts, stylesheets, images or links to fetch
    assert not re.search(r"https?://", page)
    text = " ".join(parsed.text)
    for fact in (
        "counters",
        "localhost/adrianreber/counter:blog",
        "10.88.0.2",
        "/home/counter/counter.py",
        "/home/counter/logfile",
        "/etc/motd",
        "0.0.0.0:8088",
        "env-credential",
    ):
        assert fact in text, fact
    assert page.count("<svg") == 3  # one memory map per process


def test_secrets_redacted_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page, _ = _report(tmp_path)
    assert "hunter2-blog" not in page and "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" not in page
    assert "DB_PASSWORD=h" in page  # the name stays, the value is cut
    assert "github-pat" in page and "ghp_R3alLookingGitHubTokenValue0123456789" not in page
    full, _ = _report(tmp_path, "--include-secrets", "--force")
    capsys.readouterr()
    assert "DB_PASSWORD=hunter2-blog" in full
    assert "ghp_R3alLookingGitHubTokenValue0123456789" in full


def test_report_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _report(tmp_path)
    assert run(["report", str(FIXTURES / "counters-blog.tar"), "-o", str(tmp_path / "report.html")]) == 3
    assert "exists" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_report_renders_in_chromium(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _report(tmp_path)
    capsys.readouterr()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    page = (tmp_path / "report.html").as_uri()
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120)
    assert "Process tree" in dom.stdout and "counter.py" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "report.png"
    subprocess.run(
        ["chromium", *flags, f"--screenshot={shot}", "--window-size=1400,2400", page], capture_output=True, timeout=120
    )
    assert shot.exists() and shot.stat().st_size > 20_000  # a real page, not a blank one
    colours = _distinct_colours(shot)
    assert colours > 20  # text, tables, severity badges and memory-map bars drawn


def _distinct_colours(png: Path) -> int:
    """Count colours in the PNG without extra dependencies (zlib-decode the IDAT stream)."""
    import struct
    import zlib

    data = png.read_bytes()
    offset, idat, width = 8, b"", 0
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width = struct.unpack(">I", chunk[:4])[0]
            channels = {2: 3, 6: 4}.get(chunk[9], 3)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * channels
    sample = {
        raw[i : i + 3]
        for row in range(0, len(raw) // stride, 7)
        for i in range(row * stride + 1, (row + 1) * stride, channels * 13)
    }
    return len(sample)
