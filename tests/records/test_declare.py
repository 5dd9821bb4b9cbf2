"""Record types: one declaration, every form of a record derived from it."""

from __future__ import annotations

import pytest

from checkforensics.analysis.descriptors import FILES, SOCKETS
from checkforensics.model import CheckpointModel
from checkforensics.model.descriptions import DESCRIPTOR, descriptor_record
from checkforensics.records.declare import Column, Field, RecordType
from checkforensics.records.values import ADDRESS, COMMAND_LINE, INTEGER, LONG, SEVERITY, SIZE, TEXT, TIME

from conftest import FIXTURES

INFLIGHT = FIXTURES / "inflight.tar.zst"


def test_each_kind_of_value_has_one_json_and_one_table_form() -> None:
    assert (ADDRESS.json(0x7F3A00001000), ADDRESS.text(0x7F3A00001000)) == (0x7F3A00001000, "0x7f3a00001000")
    assert (SIZE.json(9478144), SIZE.text(9478144)) == (9478144, "9.0 MiB")
    assert TIME.text("2026-11-22T23:19:30.674255279Z") == "2026-11-22T23:19:30Z"
    assert (SEVERITY.json("HIGH"), SEVERITY.text("high")) == ("high", "HIGH")
    assert COMMAND_LINE.text(["sh", "-c", "echo $HOME; id"]) == "sh -c 'echo $HOME; id'"
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 1700
    assert LONG.json(pem) == pem
    assert LONG.text(pem).endswith(f"…({len(pem)} chars)") and len(LONG.text(pem)) < 80
    for hint in (ADDRESS, SIZE, TIME, SEVERITY, COMMAND_LINE, LONG, INTEGER, TEXT):  # missing is never 0 or ""
        assert (hint.json(None), hint.text(None)) == (None, "-")


def test_a_declaration_names_only_fields_it_has() -> None:
    with pytest.raises(ValueError, match="column of unknown field 'nope'"):
        RecordType("x", "xs", (Field("a"),), ("nope",))
    with pytest.raises(ValueError, match="declared twice"):
        RecordType("x", "xs", (Field("a"), Field("a")))
    with pytest.raises(ValueError, match="not a field of records"):
        RecordType("x", "xs", (Field("a"),), expand="a")


def test_optional_and_context_fields() -> None:
    kind = RecordType(
        "thing", "things",
        (Field("archive", TEXT, context=True), Field("pid", INTEGER), Field("env", optional=True),
         Field("size", SIZE, sometimes=True)),
        ("pid", Column("BYTES", "size"), Column("TWICE", get=lambda item: item["pid"] * 2)),
    )  # fmt: skip
    item = {"pid": 7, "env": ["A=1"], "size": None}
    assert kind.json(item) == {"archive": None, "pid": 7}
    assert kind.json(item, {"env"}, {"archive": "a.tar"}) == {"archive": "a.tar", "pid": 7, "env": ["A=1"]}
    assert kind.row({"pid": 7, "size": 2048}) == ["7", "2.0 KiB", "14"]


def test_the_descriptor_record_is_the_declared_form_of_real_descriptors() -> None:
    """inflight.tar.zst: a pipe, a UNIX socket with a queue, a TCP connection, a ghost file, a memfd."""
    with CheckpointModel.open(INFLIGHT) as model:
        table = model.files()
        process = table.processes[0]
        records = FILES.json(process)
        lines = FILES.lines(process)
        rows = FILES.rows(process)
        sockets = SOCKETS.json(process)
    assert records["fds"] == [descriptor_record(d) for d in process.descriptors] == [
        DESCRIPTOR.json(d) for d in process.descriptors
    ]
    tcp = next(r for r in records["fds"] if r["fd"] == 9)  # the accepted end, 27 bytes unread
    assert (tcp["proto"], tcp["local"], tcp["remote"]) == ("TCP", "127.0.0.1:7070", "127.0.0.1:43414")
    assert tcp["recv_queue"] == 27
    assert "recv_queue" in tcp and "path" in tcp and "pipe_id" not in tcp  # kind-specific keys only where they apply
    assert lines == [{"pid": process.pid, "comm": process.comm, **fd} for fd in records["fds"]]
    assert [cells[2] for cells, _ in rows] == [str(d.fd) for d in process.descriptors]
    assert {fd["type"] for fd in sockets["fds"]} <= {"UNIXSK", "INETSK", "NETLINKSK", "PACKETSK"}
    assert len(sockets["fds"]) == sum(fd["type"].endswith("SK") for fd in records["fds"]) >= 2
