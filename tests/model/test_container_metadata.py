"""``model.container``: the engine's records read once, from real Podman and containerd
checkpoints and a bare CRIU dump, checked against their truth files."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from checkforensics.model import CheckpointModel
from checkforensics.model.container import parse_kubelet_name
from checkforensics.model.engines import CONTAINERD, PODMAN

from conftest import FIXTURES, truth


def test_a_podman_checkpoint_says_its_engine_name_image_and_address() -> None:
    facts = truth("counters-blog")
    interface = facts["network"]["podman"]["interfaces"]["eth0"]
    with CheckpointModel.open(FIXTURES / "counters-blog.tar") as model:
        container = model.container
        info = container.info
        assert container.warnings == []
        assert info.engine == PODMAN
        assert (info.name, info.image, info.id, info.runtime) == tuple(
            facts["container"][key] for key in ("name", "image", "id", "runtime")
        )
        assert info.ips == [subnet["ipnet"].split("/")[0] for subnet in interface["subnets"]] == ["10.88.0.2"]
        assert info.macs == [interface["mac_address"]]
        assert container.network == facts["network"]
        assert container.spec["annotations"]["io.container.manager"] == facts["container"]["annotations_manager"]
        # Podman records no checkpoint time: the images' archiving time stands for it
        assert container.checkpointed[1] == "inventory.img mtime"


def test_a_containerd_checkpoint_says_its_pod_and_when_it_was_taken() -> None:
    facts = truth("containerd-busybox")
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        container = model.container
        info = container.info
        assert container.warnings == []
        assert info.engine == CONTAINERD == facts["engine"]
        assert (info.name, info.id) == (facts["container"]["name"], facts["container"]["id"])
        assert (info.pod, info.namespace, info.pod_uid) == (
            facts["pod"]["name"],
            facts["pod"]["namespace"],
            facts["pod"]["uid"],
        )
        assert info.host_pid == facts["container"]["pid_on_host"]
        assert container.spec["annotations"] == facts["spec_annotations"]
        assert container.checkpointed == (container.config["checkpointedTime"], "config.dump")


def test_a_bare_criu_dump_has_no_records_and_nothing_to_say() -> None:
    with CheckpointModel.open(FIXTURES / "bare-bash-sleep") as model:
        container = model.container
        assert (container.config, container.spec, container.network) == (None, None, None)
        assert container.info.engine is None and container.info.name is None
        assert container.warnings == []


def _copy_without(tmp_path: Path, source: Path, left_out: str) -> Path:
    """The archive ``source`` extracted into a directory, without member ``left_out``."""
    root = tmp_path / "checkpoint"
    with tarfile.open(source) as tar:
        tar.extractall(root, filter="tar")
    (root / left_out).unlink()
    return root


def test_what_is_missing_is_said_once_whoever_asks_first(tmp_path: Path) -> None:
    root = _copy_without(tmp_path, FIXTURES / "counters-blog.tar", "spec.dump")
    (root / "network.status").write_text("{broken")
    with CheckpointModel.open(root) as model:
        assert model.mounts.spec == []  # the rootfs analysis asks for the spec before show does
        container = model.container
        expected = [
            "network.status: not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1))",
            "spec.dump: missing (engine, pod, annotations and mounts unknown)",
        ]
        assert container.warnings == expected
        assert container.info.name == truth("counters-blog")["container"]["name"]  # config.dump alone still names it
        assert container.warnings == expected  # read once: asking again adds nothing


def test_config_dump_that_is_no_object_is_said(tmp_path: Path) -> None:
    root = _copy_without(tmp_path, FIXTURES / "counters-blog.tar", "config.dump")
    (root / "config.dump").write_text(json.dumps(["not", "an", "object"]))
    with CheckpointModel.open(root) as model:
        lost = "container name, image, ID and times unknown"
        assert model.container.warnings == [f"config.dump: not a JSON object ({lost})"]
        assert model.container.info.name is None


def test_the_kubelets_file_name_dates_a_checkpoint_without_a_recorded_time(tmp_path: Path) -> None:
    name = "checkpoint-counters-5b6c_default-counters-2026-11-22T23:20:01Z.tar"
    shutil.copy(FIXTURES / "counters-blog.tar", tmp_path / name)
    with CheckpointModel.open(tmp_path / name) as model:
        assert model.container.checkpointed == ("2026-11-22T23:20:01Z", "file name")
    kubelet = parse_kubelet_name(name)
    assert kubelet is not None
    assert (kubelet.pod, kubelet.namespace, kubelet.container) == ("counters-5b6c", "default", "counters")
    assert parse_kubelet_name("counters-blog.tar") is None


@pytest.mark.parametrize("fixture", ["counters-blog.tar", "containerd-busybox.tar", "bare-bash-sleep"])
def test_reading_the_metadata_lays_out_no_process(fixture: str) -> None:
    with CheckpointModel.open(FIXTURES / fixture) as model:
        model.container.info  # noqa: B018
        assert "tree" not in vars(model)  # the process tree is built only when asked for
        assert not any(name.startswith(("core-", "pages-", "mm-")) for name in model.store._images)
