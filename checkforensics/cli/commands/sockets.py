"""List sockets: UNIX, TCP/UDP over IPv4 and IPv6, netlink, packet.

\b
Example:
  checkforensics sockets checkpoint.tar
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checkforensics.cli.declare import command
from checkforensics.cli.options import pid_option

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel
    from checkforensics.records.declare import Answer


@command(options=[pid_option()], records=["checkforensics.analysis.descriptors:SOCKETS"])
def sockets(model: CheckpointModel, pids: tuple[int, ...]) -> Answer:
    from checkforensics.analysis.descriptors import descriptors

    return descriptors(model, pids, sockets=True)
