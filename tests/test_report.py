"""The HTML report: self-contained, every section filled, secrets redacted; rendered in Chromium when installed."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from mutants import read_members, write_members

from checkforensics.analysis.overview import overview
from checkforensics.analysis.redaction import Redaction
from checkforensics.analysis.rootfs import ChangedFile, Layer, RootfsChanges
from checkforensics.analysis.triage import Context, triage
from checkforensics.cli import run
from checkforensics.images.codec import decode_image, encode_image
from checkforensics.model import CheckpointModel, Process, ProcessTree
from checkforensics.model.files import Descriptor, FileTable, ProcessFiles
from checkforensics.report import ReportInput, render_report

from conftest import FIXTURES, SCENARIOS, truth

SECTIONS = (
    "summary", "triage", "malfind", "history", "processes", "files", "sockets", "inflight", "log", "rootfs",
    "timeline", "secrets", "memory",
)  # fmt: skip


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
    assert page.count("<svg") == 4  # one memory map per process, and the timeline's chart


def test_timeline_is_drawn_by_source_with_its_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The chart has a lane per source that dated something, named with its count, a tick per
    event (those on one spot as one), the axis labelled from the first event to the last; the
    table lists every event of ``timeline`` (the runtime's files aside, as the command by default)
    with the log's secret masked, and the deleted file after the dated ones."""
    page, _ = _report(tmp_path)
    capsys.readouterr()
    assert run(["timeline", str(FIXTURES / "counters-blog.tar"), "--format", "json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    chart = page[page.index('<svg class="timeline"') : page.index("</svg>", page.index('<svg class="timeline"'))]
    lanes = re.findall(r'class="lane">([a-z]+) \((\d+)\)<', chart)
    by_source = {source: sum(e["source"] == source for e in events if e["datetime"]) for source, _ in lanes}
    assert [name for name, _ in lanes] == ["runtime", "checkpoint", "log", "files"]
    assert {name: int(count) for name, count in lanes} == by_source
    assert chart.count("<title>") <= sum(by_source.values()) and chart.count("<title>") >= len(lanes)
    section = page[page.index('<section id="timeline">') : page.index('<section id="secrets">')]
    assert section.count('<td class="when">') == len(events) == 11
    assert "2026-11-22 23:19:30.674" in chart and "23:20:01" in chart  # created ... checkpointed
    lanes_drawn = chart.split('class="lane">')[1:]
    pale = {lane.split(" ")[0]: 'fill-opacity="0.45"' in lane for lane in lanes_drawn}
    assert pale == {"runtime": False, "checkpoint": True, "log": False, "files": True}  # Podman: inventory.img mtime
    last_row = section[section.rindex("<tr>") :]
    assert "/etc/motd" in last_row and "<td class=\"when\">-</td>" in last_row
    assert "ghp_R3alLookingGitHubTokenValue0123456789" not in section and "GET /secret?ghp_" in section


def test_secrets_redacted_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page, _ = _report(tmp_path)
    assert "hunter2-blog" not in page and "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" not in page
    assert "DB_PASSWORD=h" in page  # the name stays, the value is cut
    assert "github-pat" in page and "ghp_R3alLookingGitHubTokenValue0123456789" not in page
    full, _ = _report(tmp_path, "--include-secrets", "--force")
    capsys.readouterr()
    assert "DB_PASSWORD=hunter2-blog" in full
    assert "ghp_R3alLookingGitHubTokenValue0123456789" in full


def _leaks(page: str, values: list[str]) -> list[str]:
    """The values (or a half of one) found in the page, raw or in any HTML-escaped form."""
    text = html.unescape(page)
    return [
        value
        for value in values
        for part in (value, value[: len(value) // 2 + 1], value[len(value) // 2 :])
        if part in page or part in text or html.escape(part) in page
    ]


def test_no_credential_value_of_the_blog_fixture_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every credential in the environments (truth file) and in memory, anywhere in the page."""
    env = {entry for process in truth("counters-blog")["processes"] for entry in process["env"]}
    values = sorted({e.split("=", 1)[1] for e in env if e.split("=", 1)[0] in ("DB_PASSWORD", "AWS_SECRET_ACCESS_KEY")})
    values.append("gh" + "p_R3alLookingGitHubTokenValue0123456789")
    assert len(values) == 3 and "hunter2-blog" in values
    page, _ = _report(tmp_path)
    assert _leaks(page, values) == []
    assert "PWD=/</code>" in page and "HOME=/root" in page  # what is no secret stays readable
    full, _ = _report(tmp_path, "--include-secrets", "--force")
    capsys.readouterr()
    assert all(html.escape(value) in full for value in values)


def test_no_planted_secret_of_the_creds_scenario_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = truth("scenarios/creds")["markers"]
    # the PEM key also line by line: a body line alone is most of a key
    values = [*planted, *(line for m in planted for line in m.splitlines() if len(line) >= 16)]
    out = tmp_path / "creds.html"
    assert run(["report", str(SCENARIOS / "creds.tar.zst"), "-o", str(out)]) == 0
    assert _leaks(out.read_text(), values) == []
    assert run(["report", str(SCENARIOS / "creds.tar.zst"), "-o", str(out), "--include-secrets", "--force"]) == 0
    capsys.readouterr()
    full = out.read_text()
    assert [m for m in planted if m.startswith(("sk_", "gh", "xox")) and m not in full] == []


def test_every_section_masks_what_it_quotes(tmp_path: Path) -> None:
    """Evidence built by hand, so that every section quotes a secret: the names the policy knows,
    values the credential rules know, and secrets inside paths and warnings."""
    stripe, github = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc", "gh" + "p_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
    secrets = ["pgpass-value-1", "mysql-pwd-value-2", "redis-auth-value-3", "cli-password-value-4",
               "next-word-token-5", stripe, github, "query-token-6"]  # fmt: skip
    process = Process(pid=42, ppid=0, pgid=42, sid=42, tids=[42], comm="app", uid=0)
    process.cmdline = ["app", f"--password={secrets[3]}", "--token", secrets[4], "https://example.com/"]
    process.env = [f"PGPASSWORD={secrets[0]}", f"MYSQL_PWD={secrets[1]}", f"REDISCLI_AUTH={secrets[2]}",
                   f"STRIPE={stripe}", "PWD=/tmp", "OLDPWD=/srv", "AUTHOR=alice"]  # fmt: skip
    open_file = Descriptor(3, "REG", 1, path=f"/tmp/{github}.json", deleted=True)
    files = FileTable([ProcessFiles(42, "app", [open_file])], [f"pid 42: odd fd /run/x?token={secrets[7]}"])
    changed = [ChangedFile(f"/srv/{github}", "file", 3, 0o644, 0, 0, "2026-01-01T00:00:00Z")]
    changes = RootfsChanges([Layer("rootfs", "rootfs-diff.tar", changed)], [f"/var/log/{stripe}.log"])
    tree = ProcessTree([process])
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as model:
        for include in (False, True):
            context = Context(tree, files, changes, redaction=Redaction(reveal=include))
            data = ReportInput(model, overview(model), "0" * 64, tree, files, changes, triage(context), [])
            page = render_report(data, include_secrets=include)
            if include:
                assert all(html.escape(value) in page for value in secrets)
            else:
                assert _leaks(page, secrets) == []
                for kept in ("PWD=/tmp", "OLDPWD=/srv", "AUTHOR=alice", "https://example.com/", "--token"):
                    assert kept in page
                assert page.count("credential in the environment") == 4  # PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH, STRIPE


def test_what_report_prints_is_one_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    argv = ["report", str(FIXTURES / "counters-blog.tar"), "-o", str(out), "--force"]
    assert run([*argv, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    # 8 findings: 7 in memory and environments, and the GitHub token counter.py logged to a file
    assert document == {"output": str(out), "size": out.stat().st_size, "processes": 3, "findings": 8,
                        "secrets": 7, "warnings": []}  # fmt: skip
    assert run(["triage", str(FIXTURES / "counters-blog.tar"), "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["findings"]) == 8  # the page lists triage's findings
    assert run([*argv, "--format", "jsonl"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {key: value for key, value in document.items() if key != "warnings"}
    ]
    assert run(argv) == 0
    assert capsys.readouterr().out == f"wrote {out} ({out.stat().st_size} bytes)\n"


def test_the_page_warnings_are_the_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the page lists as not read is in the JSON document's warnings and on stderr."""
    images = Path(shutil.copytree(FIXTURES / "bare-bash-sleep", tmp_path / "images"))
    for core in images.glob("core-*.img"):
        core.unlink()
    out = tmp_path / "report.html"
    assert run(["report", str(images), "-o", str(out), "--format", "json"]) == 0
    captured = capsys.readouterr()
    (warning,) = json.loads(captured.out)["warnings"]
    assert "no core image for pid 16120, 16122" in warning
    assert captured.err == f"checkforensics: warning: {warning}\n"
    assert f"<li>{html.escape(warning)}</li>" in out.read_text()


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


# Measures the page as Chromium laid it out, written into the DOM that --dump-dom prints: how
# much wider than the window the page is, which elements stick out past its right edge, and the
# sections drawn with their height.
_MEASURE = """<script>
const wide = [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter(e => !e.closest("div.wide, pre.dump"))
  .map(e => e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""));
const sections = [...document.querySelectorAll("section")].map(s => s.id + ":" + Math.round(s.offsetHeight));
const out = document.createElement("pre");
out.id = "measured";
out.textContent = JSON.stringify({
  overflow: document.documentElement.scrollWidth - window.innerWidth, wide: wide.slice(0, 20), sections });
document.body.appendChild(out);
</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
@pytest.mark.parametrize(
    "fixture", ["scenarios/intrusion.tar.zst", "containerd-intrusion.tar.zst", "scenarios/sharing"]
)
def test_the_page_as_chromium_lays_it_out(fixture: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """At 1400 pixels (the width an analyst reads it at), no part of the page runs past the
    right edge (wide tables scroll in their own box, hexdumps in theirs), and every section is
    drawn. The page is measured as Chromium laid it out: a copy without the page's
    Content-Security-Policy, which forbids any script, gets one that measures it."""
    out = tmp_path / "report.html"
    assert run(["report", str(FIXTURES / fixture), "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text()
    csp = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>', page)
    assert csp is not None  # the report forbids scripts; only the measured copy runs one
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace(csp[0], "").replace("</body>", _MEASURE + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000"]  # fmt: skip
    dom = subprocess.run(["chromium", *flags, "--dump-dom", measured.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found is not None, dom[-2000:]
    facts = json.loads(html.unescape(found[1]))
    assert facts["overflow"] <= 0 and not facts["wide"], facts
    drawn = dict(entry.rsplit(":", 1) for entry in facts["sections"])
    assert set(SECTIONS) <= set(drawn) and all(int(drawn[name]) > 0 for name in SECTIONS), drawn


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


def test_containerd_report_names_pod_and_whiteouts(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run(["report", str(FIXTURES / "containerd-busybox.tar"), "-o", str(out)]) == 0
    page = out.read_text()
    assert "<code>5f0c1a2e-7b3d-4c59-9e21-3a8d6f4b0c77</code>" in page  # the pod UID
    assert '<span class="bad">deleted</span>' in page and "<code>/etc/cfw-motd</code>" in page
    assert "/etc/cron.d/cfw-job" in page and "executable-dropped" in page


def test_report_lists_malfind_regions_and_attack_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "intrusion.html"
    assert run(["report", str(SCENARIOS / "intrusion.tar.zst"), "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text()
    section = page.split('<section id="malfind">', 1)[1].split("</section>", 1)[0]
    facts = truth("scenarios/intrusion")
    for comm in ("inj-shellcode", "inj-reflect"):
        address = int(facts["implants"][comm]["address"], 16)
        assert f"{address:#x}-" in section
    assert section.count("<tr>") == 1 + 4  # the header and the four regions
    assert "memfd:cfw-payload" in section and "kworker-upd" in section
    assert '<abbr title="T1055 Process Injection">T1055</abbr>' in section
    triage_part = page.split('<section id="triage">', 1)[1].split("</section>", 1)[0]
    for technique in ("T1059.004", "T1574.006", "T1620", "T1070.004"):
        assert f">{technique}</abbr>" in triage_part


# Names an attacker can choose inside the container, each written to break out of the page:
# a process name, the container's name, a deleted file and a file the processes hold open.
MARKUP = {
    "comm": "<script>alert(1)</script>",
    "container": '"><img src=x onerror=alert(2)>',
    "deleted": "/etc/'><svg onload=alert(3)>",
    "open": "/bin/<iframe srcdoc=alert(4)>",
}


class _Markup(HTMLParser):
    """The tags and attributes a browser would build from the page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _markup_mutant(target: Path) -> Path:
    """busybox-counter-criu41.tar with the names of MARKUP."""
    members = read_members(FIXTURES / "busybox-counter-criu41.tar")
    for index, (info, data) in enumerate(members):
        if info.name == "checkpoint/core-1.img":
            image = decode_image(data or b"", info.name)
            image.entries[0].message.tc.comm = MARKUP["comm"]
            data = encode_image(image)
        elif info.name == "checkpoint/files.img":
            image = decode_image(data or b"", info.name)
            for entry in image.entries:
                if entry.message.HasField("reg") and entry.message.reg.name == "/bin/busybox":
                    entry.message.reg.name = MARKUP["open"]
            data = encode_image(image)
        elif info.name == "config.dump":
            config = json.loads(data or b"{}")
            config["name"] = MARKUP["container"]
            data = json.dumps(config).encode()
        elif info.name == "deleted.files":
            data = json.dumps([MARKUP["deleted"]]).encode()
        members[index] = (info, data)
    return write_members(members, target)


def test_names_made_of_markup_are_text_in_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Autoescaping: a name that is HTML from the evidence shows as text, in every section it
    reaches (process tree, summary and title, changes on disk, open files, triage), and the
    browser builds no element and no attribute of it."""
    out = tmp_path / "report.html"
    assert run(["report", str(_markup_mutant(tmp_path / "markup.tar")), "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text()
    parsed = _Markup()
    parsed.feed(page)
    assert not parsed.tags & {"script", "img", "iframe"}
    assert not {name for name in parsed.attributes if name.startswith("on")} | ({"src", "srcdoc"} & parsed.attributes)
    text = "".join(parsed.text)
    for name in MARKUP.values():
        assert name not in page and html.escape(name) in page.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")
        assert name in text  # shown, as text
    for section in ("processes", "summary", "rootfs", "files", "triage"):
        part = page.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
        assert "&lt;" in part, section


def test_report_lists_the_history_with_typed_credentials_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history scenario: what bash and the REPL hold (scripts/dump-scenarios/history.py), the
    credential typed with curl -u and the token exported masked."""

    out = tmp_path / "report.html"
    assert run(["report", str(SCENARIOS / "history.tar.zst"), "-o", str(out)]) == 0
    capsys.readouterr()
    page = out.read_text()
    parsed = _Collector()
    parsed.feed(page)
    assert "history" in parsed.sections
    text = " ".join(parsed.text)
    for typed in truth("scenarios/history")["typed"]:
        if typed["after_clear"] or typed["program"] == "python3":
            assert html.escape(typed["line"], quote=False) in page or typed["line"] in text, typed["line"]
    assert "remnant" in text and "history-cleared" in text and "history-download-exec" in text
    assert "cfw-fake-9c4b" not in page and "cfw-token-4f1e9a" not in page
    assert "-u deploy:cfw…(13 chars)" in text


def test_the_page_groups_findings_as_triage_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """nginx's master and workers share one listening socket and one password: one row each on
    the page as in triage, naming every holder (PID:FD for a descriptor) and the count."""
    nginx = str(SCENARIOS / "nginx.tar.zst")
    assert run(["triage", nginx, "--format", "json"]) == 0
    findings = json.loads(capsys.readouterr().out)["findings"]
    out = tmp_path / "report.html"
    assert run(["report", nginx, "-o", str(out)]) == 0
    section = out.read_text().split('<section id="triage">')[1].split("</section>")[0]
    rows = section.split("<tr>")[2:]  # after the head's
    assert len(rows) == len(findings)
    listening = next(f for f in findings if f["rule"] == "listening-socket")
    held = " ".join(f"{h['pid']}:{h['fd']}" for h in listening["holders"])
    (row,) = [r for r in rows if "<code>listening-socket</code>" in r]
    listening_fds = sorted((p["dump_pid"], fd["fd"]) for p in truth("scenarios/nginx")["processes"] for fd in p["fds"]
                           if fd.get("socket", {}).get("state") == "LISTEN")  # fmt: skip
    assert held == " ".join(f"{pid}:{fd}" for pid, fd in listening_fds) and len(listening_fds) == 3
    assert f"<td>{held}</td>" in row and f"<td>{listening['count']}</td>" in row
