"""The checked-in *_pb2.py modules are exactly what protos/*.proto generate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_generated_modules_match_protos() -> None:
    pytest.importorskip("grpc_tools", reason="protoc comes from grpcio-tools")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regen-protos.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"run scripts/regen-protos.py; these differ:\n{done.stdout}{done.stderr}"


def test_every_registered_message_exists() -> None:
    from checkforensics.images.registry import GHOST_CHUNK, KINDS, message_class

    for kind in KINDS.values():
        assert kind.entry_class().DESCRIPTOR.full_name.startswith("checkforensics.criu.")
        assert kind.head_class() is not None
    assert message_class(GHOST_CHUNK).DESCRIPTOR.name == "GhostChunkEntry"
