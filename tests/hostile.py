"""Checkpoints whose names and values were chosen by an attacker, built from real fixtures.

Every name, number and byte of a checkpoint comes from the container that was checkpointed.
``hostile_container`` is fixtures/busybox-counter-criu41.tar with its process names, file
names, command line, environment, config.dump/spec.dump/network.status values, rootfs-diff
member names (one of them not UTF-8), a changed file's content and the container's log
(ctr.log) replaced by strings that
try to drive the analyst's terminal (escape sequences, C1 controls, bidi overrides, newlines
that start a fake line) or to break JSON (lone surrogates, bytes that are not UTF-8); the
archive's own file name is one of them too. ``hostile_images`` does the same to the sockets,
files and comms of the ``weird`` scenario's images directory. Images are re-encoded with our
own encoder; nothing here is stored, everything is generated.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

from mutants import read_members, write_members

from checkforensics.images.codec import Entry, Image, decode_image, encode_image

from conftest import FIXTURES, SCENARIOS

OSC = "evil\x1b]0;pwned\x07"  # sets the terminal's title
CLEAR = "cls\x1b[2J\x1b[H"  # clears the screen
C1 = "c1\x9b31mred"  # the one-byte CSI of C1
BIDI = "txt.\u202eexe.sh"  # right-to-left override: shows as "txt.hs.exe"
FORMAT = "zw\u200bj\u2066iso\u2069\ufeffend"  # zero width space, isolates, BOM
SEPARATORS = "ls\u2028ps\u2029end"  # line and paragraph separators
NEWLINE = "nl\nFAKE-LINE\rCR"  # a fake output line, and a carriage return over it
BELL_DEL = "bel\x07del\x7f"
SURROGATES = "sur\udc80\ud800end"  # JSON's "\udc80" escapes decode to lone surrogates
NOT_UTF8 = b"bad-\xff\xfe-name"

# Raw strings, and what the display mapping (docs/security.md) turns them into.
SHOWN = {
    OSC: "evil\\x1b]0;pwned\\x07",
    CLEAR: "cls\\x1b[2J\\x1b[H",
    C1: "c1\\x9b31mred",
    BIDI: "txt.\\u202eexe.sh",
    FORMAT: "zw\\u200bj\\u2066iso\\u2069\\ufeffend",
    SEPARATORS: "ls\\u2028ps\\u2029end",
    NEWLINE: "nl\\x0aFAKE-LINE\\x0dCR",
    BELL_DEL: "bel\\x07del\\x7f",
    SURROGATES: "sur\\x80\\ud800end",
}
ARCHIVE_NAME = "case\x1b]0;t\x07\u202e.tar"
FILE_CONTENT = "first line\n\x1b]0;pwned\x07\x1b[2Jsecond\tline\r\nthird \u202eline\n"
COMMS = {1: OSC, 21: NEWLINE + BIDI}
THREAD_NAME = C1


def _image(data: bytes) -> Image:
    return decode_image(data, "hostile")


def _set_string(entry: Entry, message: Any, field: str, raw: bytes) -> None:
    """Put ``raw`` (maybe not UTF-8) into string field ``field`` of ``message``: protobuf takes
    only text, so the field gets a placeholder that encode_image swaps for the bytes."""
    try:
        setattr(message, field, raw.decode("utf-8"))
    except UnicodeDecodeError:
        placeholder = "Q" * len(raw)
        setattr(message, field, placeholder)
        entry.raw_strings[placeholder.encode()] = raw


def _cores(members: dict[str, bytes]) -> None:
    for pid, comm in COMMS.items():
        name = f"checkpoint/core-{pid}.img"
        image = _image(members[name])
        core = image.entries[0].message
        core.tc.comm = comm
        if core.HasField("thread_core"):
            core.thread_core.comm = THREAD_NAME
        members[name] = encode_image(image)


def _files(members: dict[str, bytes]) -> None:
    image = _image(members["checkpoint/files.img"])
    names = {"/dev/null": OSC.encode() + b"/" + NOT_UTF8, "/bin/busybox": ("/bin/" + BIDI + CLEAR).encode()}
    for entry in image.entries:
        reg = entry.message.reg if entry.message.HasField("reg") else None
        if reg is not None and reg.name in names:
            _set_string(entry, reg, "name", names[reg.name])
    members["checkpoint/files.img"] = encode_image(image)


def _mountpoints(members: dict[str, bytes]) -> None:
    name = next(name for name in members if name.startswith("checkpoint/mountpoints-"))
    image = _image(members[name])
    image.entries[0].message.mountpoint = "/mnt/" + SEPARATORS + NEWLINE
    members[name] = encode_image(image)


def _memory(members: dict[str, bytes]) -> None:
    """Environment and argv in the pages: same lengths, so every address stays where it was."""
    swaps = [
        (b"TERM=xterm\0", b"T=\x1b]0;x\x07\x1b[\0"),
        (b"container=podman\0", b"C=a\nFAKE\xe2\x80\xaeb\xc2\x9bXY\0"),
        (b"HOME=/\0", b"H=\xff\xfe/\x7f\0"),
        (b"sleep\x001\x00", b"s\x1b[2J\x001\x00"),
    ]
    for name in [name for name in members if name.startswith("checkpoint/pages-")]:
        data = members[name]
        for old, new in swaps:
            assert len(old) == len(new)
            data = data.replace(old, new)
        members[name] = data


def _metadata(members: dict[str, bytes]) -> None:
    config = json.loads(members["config.dump"])
    config["name"] = OSC + SURROGATES
    config["rootfsImageName"] = "registry/" + BIDI + C1
    config["runtime"] = SURROGATES
    config["createdTime"] = NEWLINE
    config["id"] = "id" + CLEAR + FORMAT
    members["config.dump"] = json.dumps(config).encode()  # ensure_ascii: surrogates as \udc80 escapes
    spec = json.loads(members["spec.dump"])
    spec["hostname"] = BELL_DEL + SEPARATORS
    spec.setdefault("annotations", {})[OSC] = NEWLINE + SURROGATES
    spec["annotations"]["org.example.bidi"] = BIDI
    spec["mounts"][0]["destination"] = "/proc" + CLEAR
    spec["mounts"][0]["options"] = [NEWLINE, SURROGATES]
    members["spec.dump"] = json.dumps(spec).encode()
    network = {"net" + OSC: {"interfaces": {"eth" + BIDI: {
        "subnets": [{"ipnet": "10.0.0.2/24" + NEWLINE, "gateway": "10.0.0.1" + SURROGATES}],
        "mac_address": "aa:bb" + C1,
    }}}}  # fmt: skip
    members["network.status"] = json.dumps(network).encode()
    members["deleted.files"] = json.dumps(["/etc/" + OSC, "/etc/" + NEWLINE, "/etc/" + SURROGATES]).encode()


def rootfs_diff() -> bytes:
    """A rootfs-diff.tar whose member names (and a link target) are hostile, one not UTF-8,
    with one text file (``/hostile.txt``) full of escape sequences."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tar:  # fmt: skip
        content = FILE_CONTENT.encode()
        for name in ["hostile.txt", "etc/" + OSC, "etc/" + NEWLINE, "etc/" + BIDI + FORMAT,
                     "etc/" + C1 + BELL_DEL, "etc/" + NOT_UTF8.decode("utf-8", "surrogateescape")]:  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(content), 1_700_000_000
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("etc/link")
        link.type, link.linkname = tarfile.SYMTYPE, "/target" + CLEAR + SEPARATORS
        tar.addfile(link)
    return out.getvalue()


def container_log() -> bytes:
    """ctr.log in the CRI logging format, with hostile messages (a piece cut by the runtime
    too) and a line that is not in the format at all, holding bytes that are not UTF-8."""
    lines = [
        f"2026-11-22T23:17:19.000000000Z stdout F {OSC} {BIDI}".encode(),
        f"2026-11-22T23:17:20.000000000Z stderr P part {C1} ".encode(),
        f"2026-11-22T23:17:20.100000000Z stderr F end {FORMAT}\r{CLEAR}".encode(),
        b"not cri \x1b[2J " + NOT_UTF8,
    ]
    return b"\n".join(lines) + b"\n"


def _archive_members(members: dict[str, bytes]) -> None:
    """Members with hostile names of their own, which the listing warns about."""
    members["artifacts/" + OSC] = b"x"
    members["artifacts/" + NEWLINE] = b"x"


def hostile_container(out_dir: Path) -> Path:
    """The hostile container archive (a plain tar named ``ARCHIVE_NAME``) in ``out_dir``."""
    listed = read_members(FIXTURES / "busybox-counter-criu41.tar")
    members = {info.name: data for info, data in listed if data is not None}
    _cores(members)
    _files(members)
    _mountpoints(members)
    _memory(members)
    _metadata(members)
    members["rootfs-diff.tar"] = rootfs_diff()
    members["ctr.log"] = container_log()
    _archive_members(members)
    rewritten = []
    for info, data in listed:
        rewritten.append((info, members.pop(info.name) if data is not None else None))
    for name, data in members.items():
        rewritten.append((tarfile.TarInfo(name), data))
    return write_members(rewritten, out_dir / ARCHIVE_NAME)


def hostile_images(out_dir: Path) -> Path:
    """The weird scenario's images directory with hostile socket, file and process names."""
    target = out_dir / "images"
    shutil.copytree(SCENARIOS / "weird", target)
    files = _image((target / "files.img").read_bytes())
    sockets = [b"/tmp/" + OSC.encode() + b"\n.sock", b"\0abstract" + CLEAR.encode(), b"/s/" + NOT_UTF8 + BIDI.encode()]
    for entry in files.entries:
        message = entry.message
        if message.HasField("usk") and message.usk.name and sockets:
            message.usk.name = sockets.pop(0)
        elif message.HasField("reg") and "cfw-scenarios/weird/" in str(message.reg.name):
            _set_string(entry, message.reg, "name", f"/w/{FORMAT}{C1}{NEWLINE}".encode())
    (target / "files.img").write_bytes(encode_image(files))
    for core_file in sorted(target.glob("core-*.img")):
        image = _image(core_file.read_bytes())
        if image.entries[0].message.HasField("tc"):  # not a thread's core
            image.entries[0].message.tc.comm = CLEAR + BIDI
            core_file.write_bytes(encode_image(image))
    return target
