"""Build a tiny OCI image archive from Debian's static busybox, for ``ctr image import``.

The image has one gzip layer: /bin/busybox and the applets the fixture's container uses as
symlinks to it, a minimal /etc/passwd, a file and a directory the container deletes
(/etc/cfw-motd, /srv/cfw-old/) so that its checkpoint carries OCI whiteouts, and an empty
/etc/cron.d the container writes into. Everything is dated 2026-11-23 and owned by root, so
the archive is the same on every run with the same busybox.

Usage: make-oci-image.py NAME:TAG OUT.tar [--applets=a,b,...] [COMMAND...]
  (COMMAND: the image's Cmd; default /bin/sh. The fixture's pause image uses /bin/sleep infinity.
  --applets: more busybox applets linked in /bin, for the "intrusion" scenario's container.)

A by-hand tool, run by make-fixture.sh; tests never run it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile

BUSYBOX = "/bin/busybox"
MTIME = 1795392000  # 2026-11-23T00:00:00Z
APPLETS = ("sh", "sleep", "echo", "printf", "rm", "cat", "chmod", "mkdir", "ls", "date")


def _entry(tar: tarfile.TarFile, name: str, kind: bytes, *, data: bytes = b"", mode: int = 0o644,
           linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def layer_tar(applets: tuple[str, ...] = APPLETS) -> bytes:
    with open(BUSYBOX, "rb") as handle:
        busybox = handle.read()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("etc/cron.d", 0o755), ("root", 0o700),
                                ("srv", 0o755), ("srv/cfw-old", 0o755), ("tmp", 0o1777), ("dev", 0o755),
                                ("proc", 0o755), ("sys", 0o755)):
            _entry(tar, directory, tarfile.DIRTYPE, mode=mode)
        _entry(tar, "bin/busybox", tarfile.REGTYPE, data=busybox, mode=0o755)
        for applet in applets:
            _entry(tar, f"bin/{applet}", tarfile.SYMTYPE, linkname="busybox", mode=0o777)
        _entry(tar, "etc/passwd", tarfile.REGTYPE, data=b"root:x:0:0:root:/root:/bin/sh\n")
        _entry(tar, "etc/group", tarfile.REGTYPE, data=b"root:x:0:\n")
        _entry(tar, "etc/cfw-motd", tarfile.REGTYPE, data=b"marker-containerd-motd-in-image-1d4b\n")
        _entry(tar, "srv/cfw-old/notes.txt", tarfile.REGTYPE, data=b"marker-containerd-old-notes-88e0\n")
    return out.getvalue()


def blob(tar: tarfile.TarFile, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    _entry(tar, f"blobs/sha256/{digest}", tarfile.REGTYPE, data=data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    reference, out_path, rest = argv[1], argv[2], argv[3:]
    applets = APPLETS
    if rest and rest[0].startswith("--applets="):
        applets += tuple(rest.pop(0).removeprefix("--applets=").split(","))
    command = rest or ["/bin/sh"]
    layer = layer_tar(applets)
    compressed = gzip.compress(layer, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-11-23T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": command, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]},
        "history": [{"created": "2026-11-23T00:00:00Z", "created_by": "make-oci-image.py"}],
    }
    with tarfile.open(out_path, "w", format=tarfile.PAX_FORMAT) as tar:
        _entry(tar, "blobs", tarfile.DIRTYPE, mode=0o755)
        _entry(tar, "blobs/sha256", tarfile.DIRTYPE, mode=0o755)
        layer_desc = blob(tar, compressed)
        config_desc = blob(tar, json.dumps(config, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer_desc}],
        }
        manifest_desc = blob(tar, json.dumps(manifest, sort_keys=True).encode())
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    **manifest_desc,
                    "platform": {"architecture": "amd64", "os": "linux"},
                    "annotations": {
                        "io.containerd.image.name": reference,
                        "org.opencontainers.image.ref.name": reference.rsplit(":", 1)[-1],
                    },
                }
            ],
        }
        _entry(tar, "oci-layout", tarfile.REGTYPE, data=b'{"imageLayoutVersion":"1.0.0"}')
        _entry(tar, "index.json", tarfile.REGTYPE, data=json.dumps(index, sort_keys=True).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
