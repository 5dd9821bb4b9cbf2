"""The truth file of the containerd fixture, from make-fixture.sh's output directory.

Usage: write-truth.py OUTDIR TRUTH.json [later | ARCHIVE]
(with "later": the second checkpoint, containerd-busybox-later.tar, and live-later.json; with
ARCHIVE, another scenario's checkpoint in OUTDIR: containerd-intrusion.tar)
Combines what the live container showed (live.json: /proc, the files it wrote, the CRI log),
what crictl said (inspect, inspectp) and what Python's own tarfile and gzip read in the exported
archive (members, the layer's entries and whiteouts, status.dump). Nothing of checkforensics is
used. A by-hand tool; tests never run it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

ARCHIVE = "containerd-busybox.tar"


def main(argv: list[str]) -> int:
    out, truth_path = Path(argv[1]), Path(argv[2])
    later = argv[3:] == ["later"]
    archive_name = ARCHIVE.replace(".tar", "-later.tar") if later else (argv[3] if argv[3:] else ARCHIVE)
    live = json.loads((out / ("live-later.json" if later else "live.json")).read_text())
    inspect = json.loads((out / "crictl-inspect.json").read_text())
    inspectp = json.loads((out / "crictl-inspectp.json").read_text())
    archive = out / archive_name
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        read = {name: tar.extractfile(m).read() for name, m in members.items() if m.isfile()}
    layer = read["rootfs-diff.tar"]
    entries, whiteouts, opaque = [], [], []
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as diff:
        for m in diff.getmembers():
            base = m.name.rstrip("/").rsplit("/", 1)[-1]
            parent = m.name.rstrip("/").rpartition("/")[0]
            if base == ".wh..wh..opq":
                opaque.append("/" + parent)
            elif base.startswith(".wh."):
                whiteouts.append("/" + (parent + "/" if parent else "") + base[4:])
            else:
                content = diff.extractfile(m).read() if m.isfile() else None
                entries.append({
                    "path": "/" + m.name.rstrip("/"),
                    "type": "dir" if m.isdir() else "file" if m.isfile() else "other",
                    "size": m.size if m.isfile() else 0,
                    "mode": f"{m.mode & 0o7777:04o}",
                    "sha256": hashlib.sha256(content).hexdigest() if content is not None else None,
                })
    status = json.loads(read["status.dump"])
    spec = json.loads(read["spec.dump"])
    log_lines = read["container.log"].decode().splitlines()
    truth = {
        "archive": archive_name,
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "versions": (out / "versions.txt").read_text().splitlines(),
        "engine": "containerd",
        "container": {
            "id": inspect["status"]["id"],
            "name": inspect["status"]["metadata"]["name"],
            "image": inspect["status"]["image"]["image"],
            "image_ref": inspect["status"]["imageRef"],
            "labels": inspect["status"]["labels"],
            "annotations": inspect["status"]["annotations"],
            "log_path": inspect["status"]["logPath"],
            "created": inspect["status"]["createdAt"],
            "started": inspect["status"]["startedAt"],
            "pid_on_host": inspect["info"]["pid"],
        },
        "pod": {
            "name": inspectp["status"]["metadata"]["name"],
            "namespace": inspectp["status"]["metadata"]["namespace"],
            "uid": inspectp["status"]["metadata"]["uid"],
            "sandbox_id": inspectp["status"]["id"],
            "labels": inspectp["status"]["labels"],
        },
        "members": sorted(members),
        "rootfs_diff": {
            "compression": "gzip" if layer[:2] == b"\x1f\x8b" else "none",
            "entries": entries,
            "whiteouts": whiteouts,
            "opaque": opaque,
        },
        "status_dump": status,
        "spec_annotations": spec.get("annotations", {}),
        "container_log": log_lines,
        "live": live,
    }
    if (out / "planted.json").exists():  # the credentials scenario's user:password pairs
        truth["planted"] = json.loads((out / "planted.json").read_text())
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
