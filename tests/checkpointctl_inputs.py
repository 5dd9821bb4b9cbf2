"""The inputs of checkpointctl's bats suite (test/checkpointctl.bats), built here into a test's
tmp_path the way its test/Makefile and the suite build them: archives holding container
metadata (config.dump, spec.dump, network.status, stats-dump, rootfs-diff.tar) and some or none
of the CRIU images of one real dump.

The dump is fixtures/checkpointctl-piggie.tar.zst (scripts/checkpointctl-suite/piggie.py: the
suite's ``piggie --tcp-socket --zombie`` with ``TEST_ENV=BAR TEST_ENV_EMPTY=``, dumped by CRIU
4.2.1); the ``diff --sockets`` tests compare the two dumps of its test-imgs-diff.sh,
fixtures/checkpointctl-piggie-diff-{a,b}.tar.zst (``piggie.py --diff``: TCP and UDP clients
added and removed between them). The metadata below holds the same facts as the suite's test/data files (an empty
config.dump, a Podman spec.dump with two mounts, a CRI-O one, Podman network.status with one
and with two networks, the CRI-O config/spec of the ``list`` tests), written out here.
"""

from __future__ import annotations

import fnmatch
import functools
import io
import json
import tarfile
from pathlib import Path

from checkforensics.archive import Checkpoint

from conftest import FIXTURES

PIGGIE = FIXTURES / "checkpointctl-piggie.tar.zst"
PIGGIE_DIFF = {which: FIXTURES / f"checkpointctl-piggie-diff-{which}.tar.zst" for which in ("a", "b")}

CONFIG = b"{\n}\n"  # test/data/config.dump
SPEC_PODMAN = json.dumps(
    {
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/etc/hostname",
                "type": "bind",
                "source": "/run/containers/storage/overlay-containers/d5ee/userdata/hostname",
            },
        ],
        "annotations": {"io.container.manager": "libpod"},
    }
).encode()
SPEC_CRIO = json.dumps(
    {"annotations": {"io.container.manager": "cri-o", "io.kubernetes.cri-o.Metadata": "{}"}}
).encode()
NETWORK = json.dumps(
    {
        "podman": {
            "interfaces": {
                "eth0": {
                    "subnets": [{"ipnet": "10.88.0.9/16", "gateway": "10.88.0.1"}],
                    "mac_address": "f2:99:8d:fb:5a:57",
                }
            }
        }
    }
).encode()
NETWORK_MULTI = json.dumps(
    {
        "net1": {
            "interfaces": {
                "eth0": {
                    "subnets": [{"ipnet": "10.89.0.2/24", "gateway": "10.89.0.1"}],
                    "mac_address": "32:ba:b8:45:bc:84",
                }
            }
        },
        "net2": {
            "interfaces": {
                "eth1": {
                    "subnets": [{"ipnet": "10.89.1.2/24", "gateway": "10.89.1.1"}],
                    "mac_address": "5e:b7:fe:ee:e0:d8",
                }
            }
        },
    }
).encode()
LIST_CONFIG = json.dumps(  # test/data/list_config_spec.dump/config.dump: a CRI-O container
    {
        "id": "6924be1bd90c23f10e2667102b0ee0f74f09bba78b6661871e733cb3b1737821",
        "name": "k8s_container-name_deployment-name_default_6975ee47-6765-45dc-9a2b-1e38d51031f7_0",
        "rootfsImageName": "docker.io/library/nginx:latest",
        "runtime": "runc",
        "createdTime": "2024-01-27T14:45:26.083444055Z",
        "checkpointedTime": "2024-01-28T00:10:45.673538606+05:30",
    }
).encode()


def list_spec(pod: str = "pod-name") -> bytes:
    """test/data/list_config_spec.dump/spec.dump, with the pod name the test sets."""
    annotations = {
        "io.container.manager": "cri-o",
        "io.kubernetes.container.name": "container-name",
        "io.kubernetes.pod.name": pod,
        "io.kubernetes.pod.namespace": "default",
        "io.kubernetes.cri-o.Metadata": '{"name":"container-name"}',
    }
    return json.dumps({"annotations": annotations}).encode()


@functools.cache
def _images_of(path: Path) -> dict[str, bytes]:
    with Checkpoint.open(path) as checkpoint:
        return {name: checkpoint.read_image(name) for name in checkpoint.image_names()}


def piggie_images() -> dict[str, bytes]:
    """Every image of the real dump, by name (its test-imgs/ directory)."""
    return _images_of(PIGGIE)


def sk_diff_archives(folder: Path) -> tuple[Path, Path]:
    """a.tar and b.tar as the suite's build_sk_diff_tars makes them: config.dump, spec.dump and
    every image of dump A (B) under checkpoint/."""
    return tuple(
        archive(folder / f"{which}.tar", {"config.dump": CONFIG, "spec.dump": SPEC_PODMAN}, _images_of(path))
        for which, path in PIGGIE_DIFF.items()
    )


def images(*patterns: str) -> dict[str, bytes]:
    """The images matching shell patterns (``core-*.img``), as the suite's ``cp test-imgs/...``."""
    every = piggie_images()
    return {name: data for name, data in every.items() if any(fnmatch.fnmatch(name, p) for p in patterns)}


def rootfs_diff() -> bytes:
    """A rootfs-diff.tar holding test.pid ("1\\n"), as the suite's rootfs-diff tests make it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("test.pid")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"1\n"))
    return out.getvalue()


def archive(
    path: Path,
    files: dict[str, bytes],
    checkpoint: dict[str, bytes] | None = None,
    *,
    compression: str = "",
) -> Path:
    """Write ``path``: a tar (``compression`` "gz" for tar.gz) of top-level ``files`` and, unless
    ``checkpoint`` is None, a ``checkpoint/`` directory holding those images (maybe none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, f"w:{compression}" if compression else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if checkpoint is not None:
            folder = tarfile.TarInfo("checkpoint")
            folder.type = tarfile.DIRTYPE
            folder.mode = 0o755
            tar.addfile(folder)
            for name, data in checkpoint.items():
                info = tarfile.TarInfo(f"checkpoint/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def podman(path: Path, *patterns: str, extra: dict[str, bytes] | None = None, compression: str = "") -> Path:
    """config.dump + Podman spec.dump (+ ``extra``) and checkpoint/ with the images matching ``patterns``."""
    files = {"config.dump": CONFIG, "spec.dump": SPEC_PODMAN, **(extra or {})}
    return archive(path, files, images(*patterns) if patterns else {}, compression=compression)
