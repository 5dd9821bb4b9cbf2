"""``CriuDump``: what CRIU recorded of the dump as a whole (``model.dump``), without laying out
a process: its statistics (stats-dump), how many processes pstree.img lists, the UTS
namespace's host name.
"""

from __future__ import annotations

from functools import cached_property

from checkforensics.archive import Checkpoint
from checkforensics.errors import CheckforensicsError
from checkforensics.images.load import text
from checkforensics.model.store import ImageStore

STATS_DUMP = "stats-dump"


class CriuDump:
    """The dump-wide records of one checkpoint. The methods taking ``warnings`` add to it what
    could not be read, each time they are asked (the store decodes each image once)."""

    def __init__(self, archive: Checkpoint, store: ImageStore) -> None:
        self._archive = archive
        self._store = store

    def statistics(self, warnings: list[str]) -> dict[str, int] | None:
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
            warnings.append(str(exc))
            return None
        if image.magic != "STATS" or not image.entries:
            warnings.append(f"{name}: holds no dump statistics")
            return None
        from checkforensics.images.crit_json import message_to_dict  # only when there are statistics

        return message_to_dict(image.entries[0].message).get("dump")

    def process_count(self, warnings: list[str]) -> int | None:
        """How many processes pstree.img lists; None without CRIU images or a readable pstree."""
        if self._archive.no_images is not None:
            return None  # the archive's own warning says why
        if not self._store.has("pstree.img"):
            warnings.append("pstree.img: missing")
            return None
        try:
            return len(self._store.image("pstree.img").entries)
        except CheckforensicsError as exc:
            warnings.append(str(exc))
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
