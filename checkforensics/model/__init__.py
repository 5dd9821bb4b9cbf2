"""The model: one decoded, cross-referenced view of a checkpoint under every analysis.

``CheckpointModel.open(path)`` gives the container's metadata (``container``, ``engines``),
sizes (``sizes``), CRIU's dump-wide records (``dump``), mounts (``mounts``) and layers of changed
files (``layers``), processes and threads (``processes``), every process's memory view
(``regions``, ``memory``: its own pages and the shared objects it maps; ``shared``),
descriptors with the data in flight (``files``, ``fdnames``, ``descriptions``), each image
decoded at most once (``store``).
"""

from __future__ import annotations

from checkforensics.model.checkpoint import CheckpointModel, Reads
from checkforensics.model.processes import Process, ProcessNotFoundError, ProcessTree

__all__ = ["CheckpointModel", "Process", "ProcessNotFoundError", "ProcessTree", "Reads"]
