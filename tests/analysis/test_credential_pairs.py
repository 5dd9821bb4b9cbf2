"""Encoded credential pairs (base64 of user:password) in a real containerd checkpoint, in memory
and on disk (the credential rules over the files a checkpoint holds, which triage reports):
fixtures/containerd-credentials.tar.zst, whose container (scripts/containerd-checkpoint/
credentials.sh) holds one pair in its environment (CFW_REGISTRY) and wrote two to disk, as
Docker's config.json and npm's .npmrc keep them; the truth file's ``planted`` names the three
pairs, decoded, as make-fixture.sh made them.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

from checkforensics.analysis.memsearch import SearchPattern, search_memory
from checkforensics.analysis.rootfs import read_changed_file
from checkforensics.analysis.secretscan import finding_records, scan_checkpoint, scan_files
from checkforensics.analysis.triage import load_context, triage
from checkforensics.diagnostics import Part
from checkforensics.model import CheckpointModel

from conftest import FIXTURES, truth

ARCHIVE = FIXTURES / "containerd-credentials.tar.zst"
RULE = "encoded-credential-pair"


@cache
def _truth() -> dict[str, Any]:
    return json.loads((FIXTURES / "containerd-credentials.truth.json").read_text())


def _encoded(place: str) -> str:
    return base64.b64encode(_truth()["planted"][place].encode()).decode()


@cache
def _memory() -> tuple[list[dict[str, Any]], dict[str, list[tuple[int, int, bytes]]]]:
    """The credential rules' findings (not redacted), and where a plain search finds each pair:
    (pid, address, the byte before it)."""
    with CheckpointModel.open(ARCHIVE) as checkpoint:
        records = finding_records(scan_checkpoint(checkpoint), redact=False)
        copies = {}
        for place in _truth()["planted"]:
            pattern = SearchPattern.from_literal(_encoded(place).encode())
            found = search_memory(checkpoint, checkpoint.memories(), [pattern])
            copies[place] = sorted((m.pid, m.address, checkpoint.memory(m.pid).read(m.address - 1, 1)) for m in found)
    return records, copies


def test_the_environment_pair_is_in_every_process_that_has_it() -> None:
    """CFW_REGISTRY's name says nothing of a credential: only decoding its value tells."""
    records, copies = _memory()
    value = _encoded("environment")
    live = [p["pid"] for p in _truth()["live"]["processes"] if f"CFW_REGISTRY={value}" in p["env"]]
    assert sorted(live) == [1, 7]
    found = [r for r in records if r["value"] == value]
    assert {(r["pid"], r["rule"]) for r in found} == {(1, RULE), (7, RULE)}
    assert all(before == b"=" for _, _, before in copies["environment"])
    for pid in (1, 7):
        places = [a for p, a, _ in copies["environment"] if p == pid]
        (record,) = [r for r in found if r["pid"] == pid]
        assert (record["address"], record["count"]) == (places[0], len(places))


def test_every_copy_of_every_pair_kept_as_a_value_is_found_and_nothing_else() -> None:
    """Each copy a plain search finds after "=": the shell's script (DOCKER_AUTH=, NPM_AUTH=),
    the .npmrc text it printed (``//host/:_auth=``), the environment. A bare copy (the shell's
    variable holding the value alone, after a NUL) is left alone, as docs/secrets.md says; no
    finding that was not planted."""
    records, copies = _memory()
    by_value = {_encoded(place): place for place in _truth()["planted"]}
    assert {r["value"] for r in records} == set(by_value)
    assert {before for place in copies.values() for _, _, before in place} == {b"=", b"\0"}
    for record in records:
        places = [a for pid, a, before in copies[by_value[record["value"]]] if pid == record["pid"] and before == b"="]
        assert record["rule"] == RULE
        assert (record["address"], record["count"]) == (places[0], len(places)), record
    npmrc_text = f"//npm.cfw-creds.example.net/:_auth={_encoded('npmrc')}\n".encode()
    with CheckpointModel.open(ARCHIVE) as checkpoint:
        found = search_memory(checkpoint, checkpoint.memories(), [SearchPattern.from_literal(npmrc_text)])
        assert [m.pid for m in found] == [1]  # the file's text as printf wrote it, in the shell's heap


def test_the_pairs_written_to_disk_are_found_in_rootfs_diff() -> None:
    """config.json's "auth" and .npmrc's "_auth=", each once, at its offset in the file as the
    live container's /proc/PID/root showed it; no other file holds a secret."""
    written = _truth()["live"]["written"]
    expected = {
        (path, written[path]["content"].index(_encoded(place)), _encoded(place))
        for path, place in (("/root/.docker/config.json", "docker_config"), ("/root/.npmrc", "npmrc"))
    }
    with CheckpointModel.open(ARCHIVE) as checkpoint:
        hits = scan_files(checkpoint)
    assert {(h.path, h.address, h.value.decode()) for h in hits} == expected
    assert {h.rule.id for h in hits} == {RULE}


def test_triage_names_the_file_and_masks_the_pair() -> None:
    with CheckpointModel.open(ARCHIVE) as checkpoint:
        rows = [f for f in triage(load_context(checkpoint)) if f.rule == f"secret:{RULE}" and f.pid is None]
    assert sorted(f.evidence["path"] for f in rows) == ["/root/.docker/config.json", "/root/.npmrc"]
    assert {f.title for f in rows} == {"secret in a file"}
    assert all(f.evidence["value"] == f"Y2Z3…({len(_encoded('npmrc'))} chars)" for f in rows)


def test_a_token_the_container_logged_to_a_file_is_found_there() -> None:
    """counters-blog: counter.py's HTTP server logged a request naming a GitHub token, and tee
    wrote the log to /home/counter/logfile (rootfs-diff.tar): found in the file, where it lies."""
    token = next(s for s in truth("counters-blog")["processes"][1]["secret_addresses"] if s.startswith("gh" + "p_"))
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as checkpoint:
        hits = scan_files(checkpoint)
        _, content = read_changed_file(checkpoint, "/home/counter/logfile")
    assert [(h.path, h.rule.id, h.address, h.value) for h in hits] == [
        ("/home/counter/logfile", "github-pat", content.index(token.encode()), token.encode())
    ]


def test_files_past_what_the_walk_keeps_are_said_not_scanned(monkeypatch) -> None:
    """The walk keeps the first bytes of the container's files up to HEADS_KEPT in all: with room
    for config.json (119 bytes) alone, .npmrc is not looked at, and a warning says so."""
    from checkforensics.analysis import rootfs

    monkeypatch.setattr(rootfs, "HEADS_KEPT", 150)
    with CheckpointModel.open(ARCHIVE) as checkpoint:
        hits = scan_files(checkpoint)
        warnings = [str(w) for w in checkpoint.diagnostics.said(Part.CHANGES)]
    assert [h.path for h in hits] == ["/root/.docker/config.json"]
    assert any("the secrets of 1 file the container wrote were not looked for" in w for w in warnings), warnings
