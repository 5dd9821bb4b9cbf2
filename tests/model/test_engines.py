"""Container metadata of every engine, from the real Podman fixtures and CRI-O/containerd variants of them."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from checkforensics.model.engines import (
    CONTAINERD,
    CRIO,
    PODMAN,
    container_info,
    parse_network_status,
)

from conftest import FIXTURES, truth


def _member_json(archive: Path, name: str) -> object:
    mode = "r:*" if archive.suffix != ".zst" else None
    if mode is None:
        import zstandard

        with (
            archive.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tar,
        ):
            for member in tar:
                if member.name == name:
                    handle = tar.extractfile(member)
                    assert handle is not None
                    return json.loads(handle.read())
        raise KeyError(name)
    with tarfile.open(archive, mode) as tar:
        handle = tar.extractfile(name)
        assert handle is not None
        return json.loads(handle.read())


@pytest.fixture(scope="module")
def counters() -> tuple[dict, dict, object]:
    archive = FIXTURES / "counters-blog.tar.zst"
    return (
        _member_json(archive, "config.dump"),
        _member_json(archive, "spec.dump"),
        _member_json(archive, "network.status"),
    )


def test_podman_fixture(counters: tuple[dict, dict, object]) -> None:
    config, spec, network = counters
    info = container_info(config, spec, network)
    expected = truth("counters-blog")["container"]
    assert info.engine == PODMAN
    assert info.name == expected["name"] == "counters"
    assert info.image == expected["image"]
    assert info.id == expected["id"]
    assert info.runtime == expected["runtime"]
    assert info.ips == ["10.88.0.2"]
    assert info.macs == ["6e:15:b6:02:58:b0"]
    assert info.interfaces[0].network == "podman" and info.interfaces[0].name == "eth0"
    assert info.interfaces[0].gateways == ("10.88.0.1",)
    assert info.created == "2026-11-22T23:19:30.674255279Z"
    assert info.checkpointed is None  # Podman 4.3 records no checkpointedTime
    assert info.pod is None and info.namespace is None


def test_no_network_is_no_interfaces() -> None:
    assert parse_network_status(None) == []
    network = _member_json(FIXTURES / "busybox-counter-criu41.tar", "network.status")
    assert network is None
    assert parse_network_status(network) == []


def test_several_networks_and_interfaces_in_sorted_order() -> None:
    status = {
        "second": {"interfaces": {"eth1": {"subnets": [{"ipnet": "fd00::5/64"}], "mac_address": "aa:bb:cc:00:00:02"}}},
        "podman": {
            "interfaces": {
                "eth0": {
                    "subnets": [{"ipnet": "10.88.0.7/16", "gateway": "10.88.0.1"}],
                    "mac_address": "aa:00:00:00:00:01",
                }
            }
        },
    }
    interfaces = parse_network_status(status)
    assert [(i.network, i.name, i.ips, i.mac) for i in interfaces] == [
        ("podman", "eth0", ("10.88.0.7",), "aa:00:00:00:00:01"),
        ("second", "eth1", ("fd00::5",), "aa:bb:cc:00:00:02"),
    ]


def test_cni_result_list_form() -> None:
    status = [
        {
            "cniVersion": "0.4.0",
            "interfaces": [
                {"name": "cni-podman0", "mac": "de:ad:00:00:00:01"},
                {"name": "veth1234", "mac": "de:ad:00:00:00:02"},
                {"name": "eth0", "mac": "0a:58:0a:58:00:05", "sandbox": "/run/netns/cni-1"},
            ],
            "ips": [{"version": "4", "interface": 2, "address": "10.88.0.5/16", "gateway": "10.88.0.1"}],
        }
    ]
    (iface,) = parse_network_status(status)
    assert (iface.name, iface.ips, iface.mac) == ("eth0", ("10.88.0.5",), "0a:58:0a:58:00:05")


def test_garbage_network_status_gives_nothing() -> None:
    assert parse_network_status({"podman": "oops"}) == []
    assert parse_network_status([1, "x", {"ips": "no"}]) == []
    assert parse_network_status(42) == []


def test_crio_variant_of_real_fixture(counters: tuple[dict, dict, object]) -> None:
    config, spec, _ = counters
    spec = json.loads(json.dumps(spec))
    spec["annotations"] = {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": "counter", "attempt": 0}),
        "io.kubernetes.cri-o.IP.0": "10.244.1.17",
        "io.kubernetes.cri-o.Created": "2026-11-20T10:00:00.123456Z",
        "io.kubernetes.pod.name": "counters-7d9f",
        "io.kubernetes.pod.namespace": "shop",
        "org.criu.checkpoint.version": "1",
    }
    info = container_info(config, spec, None)
    assert info.engine == CRIO
    assert (info.name, info.pod, info.namespace) == ("counter", "counters-7d9f", "shop")
    assert info.ips == ["10.244.1.17"]
    assert info.created == "2026-11-20T10:00:00.123456Z"
    assert info.criu_annotations == {"org.criu.checkpoint.version": "1"}


def test_containerd_variant_of_real_fixture(counters: tuple[dict, dict, object]) -> None:
    config, spec, _ = counters
    spec = json.loads(json.dumps(spec))
    spec["annotations"] = {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": "counter",
        "io.kubernetes.cri.sandbox-name": "counters-5b6c",
        "io.kubernetes.cri.sandbox-namespace": "default",
        "io.kubernetes.cri.image-name": "quay.io/adrianreber/counter:latest",
    }
    info = container_info(config, spec, None)
    assert info.engine == CONTAINERD
    assert (info.name, info.pod, info.namespace) == ("counter", "counters-5b6c", "default")


def test_nothing_recorded_is_none_not_empty() -> None:
    info = container_info(None, None, None)
    assert info.engine is None and info.name is None and info.ips == [] and info.created is None
    info = container_info({"createdTime": "0001-01-01T00:00:00Z", "rootfsImageName": "x"}, {"annotations": []}, None)
    assert info.created is None


def test_containerd_fixture_metadata() -> None:
    from checkforensics.analysis.overview import overview
    from checkforensics.model import CheckpointModel

    facts = truth("containerd-busybox")
    with CheckpointModel.open(FIXTURES / "containerd-busybox.tar") as model:
        view = overview(model)
    info = view.container
    assert view.warnings == []
    assert info.engine == CONTAINERD == facts["engine"]
    assert (info.name, info.id) == (facts["container"]["name"], facts["container"]["id"])
    assert (info.pod, info.namespace) == (facts["pod"]["name"], facts["pod"]["namespace"])
    assert info.pod_uid == facts["pod"]["uid"]
    assert info.sandbox_id == facts["pod"]["sandbox_id"]
    assert info.labels == facts["container"]["labels"]
    assert info.cri_annotations == facts["container"]["annotations"]
    assert info.log_path == facts["container"]["log_path"]
    assert info.image_id == facts["container"]["image_ref"]
    assert info.host_pid == facts["container"]["pid_on_host"]
    assert info.started == facts["container"]["started"]  # as crictl inspect printed it
    assert info.created == "2026-12-01T07:11:18.347875581Z"  # config.dump's createdTime, not status.dump's


def test_unix_nanos() -> None:
    from checkforensics.model.engines import unix_nanos

    assert unix_nanos(1796108834489322558) == "2026-12-01T07:07:14.489322558Z"
    assert unix_nanos(1_000_000_001) == "1970-01-01T00:00:01.000000001Z"
    for nothing in (0, -5, None, "1796108834489322558", True, 10**30, 1.5):
        assert unix_nanos(nothing) is None


CRIO_SPEC = {
    "io.container.manager": "cri-o",
    "io.kubernetes.cri-o.Metadata": json.dumps({"name": "web"}),
    "io.kubernetes.pod.name": "web-6c9d",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": "0b7e4d2c-1111-4a2b-9c3d-55aa66bb77cc",
    "io.kubernetes.cri-o.SandboxID": "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "io.kubernetes.cri-o.Labels": json.dumps(
        {"app": "web", "io.kubernetes.pod.uid": "0b7e4d2c-1111-4a2b-9c3d-55aa66bb77cc"}
    ),
    "io.kubernetes.cri-o.Annotations": json.dumps({"io.kubernetes.container.hash": "1a2b3c4d"}),
    "io.kubernetes.cri-o.LogPath": "/var/log/pods/shop_web-6c9d_0b7e4d2c/web/0.log",
}


def test_crio_pod_uid_sandbox_labels_and_log_path(counters: tuple[dict, dict, object]) -> None:
    config, spec, _ = counters
    spec = {**spec, "annotations": dict(CRIO_SPEC)}
    info = container_info(config, spec, None)
    assert info.engine == CRIO
    assert info.pod_uid == "0b7e4d2c-1111-4a2b-9c3d-55aa66bb77cc"
    assert info.sandbox_id == CRIO_SPEC["io.kubernetes.cri-o.SandboxID"]
    assert info.labels == {"app": "web", "io.kubernetes.pod.uid": "0b7e4d2c-1111-4a2b-9c3d-55aa66bb77cc"}
    assert info.cri_annotations == {"io.kubernetes.container.hash": "1a2b3c4d"}
    assert info.log_path == "/var/log/pods/shop_web-6c9d_0b7e4d2c/web/0.log"
    assert info.host_pid is None and info.started is None


def test_crio_pod_uid_from_its_labels_and_broken_json_ignored(counters: tuple[dict, dict, object]) -> None:
    config, spec, _ = counters
    annotations = {k: v for k, v in CRIO_SPEC.items() if k != "io.kubernetes.pod.uid"}
    info = container_info(config, {**spec, "annotations": annotations}, None)
    assert info.pod_uid == "0b7e4d2c-1111-4a2b-9c3d-55aa66bb77cc"
    annotations = {**annotations, "io.kubernetes.cri-o.Labels": "{not json", "io.kubernetes.cri-o.Annotations": "[1]"}
    info = container_info(config, {**spec, "annotations": annotations}, None)
    assert info.pod_uid is None and info.labels == {} and info.cri_annotations == {}


def test_containerd_pod_uid_from_annotation_or_label(counters: tuple[dict, dict, object]) -> None:
    config, spec, _ = counters
    annotations = {
        "io.kubernetes.cri.container-name": "counter",
        "io.kubernetes.cri.sandbox-id": "aa" * 32,
        "io.kubernetes.cri.sandbox-uid": "uid-from-annotation",
    }
    info = container_info(config, {**spec, "annotations": annotations}, None)
    assert (info.pod_uid, info.sandbox_id) == ("uid-from-annotation", "aa" * 32)
    del annotations["io.kubernetes.cri.sandbox-uid"]  # containerd 1.6 writes no sandbox-uid
    status = {"labels": {"io.kubernetes.pod.uid": "uid-from-label"}, "started_at": 1796108834489322558}
    info = container_info(config, {**spec, "annotations": annotations}, None, status, {"Pid": 4242})
    assert (info.pod_uid, info.host_pid) == ("uid-from-label", 4242)
    assert info.started == "2026-12-01T07:07:14.489322558Z"
    info = container_info(config, {**spec, "annotations": annotations}, None, ["not", "a", "dict"], "nor this")
    assert info.pod_uid is None and info.labels == {} and info.started is None
