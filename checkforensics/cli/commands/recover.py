"""Write every piece of in-flight data to its own file, with a manifest.

Unread pipe and FIFO buffers, queued socket data, unread TCP bytes, deleted-but-open
files and memfd contents, byte for byte, each object once however many descriptors hold
it; manifest.json lists each one's kind, path or peer, id, size and sha256, and every
descriptor (pid, comm, fd) that holds it.

\b
Example:
  checkforensics recover checkpoint.tar.zst -o recovered/
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checkforensics.cli.declare import Output, command

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.output import Destination
    from checkforensics.records.declare import Answer


@command(
    reads=("memory", "images"),
    output=Output("Directory to write to."),
    samples=[("-o", "OUT")],
    records=["checkforensics.analysis.inflight:RECOVERED"],
)
def recover(model: CheckpointModel, output: Destination) -> Answer:
    from checkforensics.analysis.inflight import recover

    return recover(model, output)
