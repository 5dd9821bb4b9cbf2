"""``CriuDump``: what CRIU recorded of the dump as a whole (``model.dump``), without laying out
a process: its statistics (stats-dump), how many processes pstree.img lists, the UTS
namespace's host name.
"""

from __future__ import annotations

from functools import cached_property

from checkforensics.archive import Checkpoint
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.images.load import text
from checkforensics.model.store import ImageStore

STATS_DUMP = "stats-dump"


class CriuDump:
    """The dump-wide records of one checkpoint. What cannot be read is said to the checkpoint's
    diagnostics (part ``dump``; the store decodes each image once)."""

    def __init__(self, archive: Checkpoint, store: ImageStore) -> None:
        self._archive = archive
        self._store = store

    @property
    def warnings(self) -> list[str]:
        """What the records asked for so far could not say."""
        return self._store.diagnostics.said(Part.DUMP)

    def statistics(self) -> dict[str, int] | None:
        """stats-dump's dump statistics, with CRIU's field names, or None when absent."""
        archive = self._archive
        for name in (STATS_DUMP, archive.images_prefix + STATS_DUMP):
            if archive.has(name):
                break
        else:
            return None
        try:
            image = self._store.image(name)
        except CheckforensicsError as exc:
            self._store.diagnostics.warn(str(exc), part=Part.DUMP)
            return None
        if image.magic != "STATS" or not image.entries:
            self._store.diagnostics.warn("holds no dump statistics", where=name, part=Part.DUMP)
            return None
        from checkforensics.images.crit_json import message_to_dict  # only when there are statistics

        return message_to_dict(image.entries[0].message).get("dump")

    def process_count(self) -> int | None:
        """How many processes pstree.img lists; None without CRIU images or a readable pstree."""
        if self._archive.no_images is not None:
            return None  # the archive's own warning says why
        if not self._store.has("pstree.img"):
            self._store.diagnostics.warn("missing", where="pstree.img", part=Part.DUMP)
            return None
        try:
            return len(self._store.image("pstree.img").entries)
        except CheckforensicsError as exc:
            self._store.diagnostics.warn(str(exc), part=Part.DUMP)
            return None

    @cached_property
    def hostname(self) -> str | None:
        """The UTS namespace's nodename: what the kernel said, maybe not what the engine set."""
        for name in self._store.image_names():
            if name.startswith("utsns-") and name.endswith(".img"):
                try:
                    image = self._store.image(name)
                except CheckforensicsError:
                    continue
                if image.entries:
                    return text(image.entries[0].message.nodename) or None
        return None
