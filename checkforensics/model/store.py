"""``ImageStore``: every image and metadata member of a checkpoint, decoded at most once.

The model asks the store for what it needs, as often as it needs it; the store reads and
decodes each member the first time and hands out the same objects afterwards. A member that
failed to decode fails the same way again without being read again.
"""

from __future__ import annotations

import json
from typing import Any

from checkforensics.archive import Checkpoint
from checkforensics.diagnostics import Diagnostics, Part
from checkforensics.errors import CheckforensicsError, ImageError
from checkforensics.images.codec import Image, decode_image
from checkforensics.images.load import read_image_member, resolve_image_member

METADATA_LIMIT = 64 << 20  # config.dump and spec.dump are tens of KiB; refuse absurd ones


class ImageStore:
    """Decoded images of one open checkpoint, by image name (``core-1.img``, ``stats-dump``),
    and the checkpoint's ``diagnostics``: whatever reads images through the store says there
    what it could not read (the model's own, or a new one for a store standing alone)."""

    def __init__(self, checkpoint: Checkpoint, diagnostics: Diagnostics | None = None) -> None:
        self.checkpoint = checkpoint
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()
        self._images: dict[str, Image | CheckforensicsError] = {}
        self._json: dict[str, Any] = {}
        self._image_names: list[str] | None = None

    def image_names(self) -> list[str]:
        """The regular files of the images directory, sorted (listed once)."""
        if self._image_names is None:
            self._image_names = self.checkpoint.image_names()
        return self._image_names

    def has(self, name: str) -> bool:
        """Whether image ``name`` is in the images directory."""
        return self.checkpoint.has_image(name)

    def image(self, name: str) -> Image:
        """Image ``name`` decoded (payloads included); raises the decoding error, every time."""
        cached = self._images.get(name)
        if cached is None:
            cached = self._decode(name)
            self._images[name] = cached
        if isinstance(cached, CheckforensicsError):
            raise cached
        return cached

    def messages(self, name: str) -> list[Any]:
        """The messages of image ``name``, in file order."""
        return self.image(name).messages()

    def first(self, name: str) -> Any:
        """The first message of image ``name``; an ImageError when it has none."""
        entries = self.image(name).entries
        if not entries:
            raise ImageError("holds no entry", where=name)
        return entries[0].message

    def json_member(self, name: str) -> Any:
        """A JSON metadata member (config.dump, spec.dump, ...), or None (said once, by the
        container's part) when it is absent or unreadable."""
        if name not in self._json:
            self._json[name] = self._read_json(name)
        return self._json[name]

    def _decode(self, name: str) -> Image | CheckforensicsError:
        checkpoint = self.checkpoint
        try:
            member = resolve_image_member(checkpoint, name)
            where = f"{checkpoint.path.name}:{member}"
            return decode_image(read_image_member(checkpoint, member, where), where)
        except CheckforensicsError as exc:
            return exc

    def _read_json(self, name: str) -> Any:
        if not self.checkpoint.has(name):
            return None
        say = self.diagnostics.warn
        try:
            data = self.checkpoint.read(name, limit=METADATA_LIMIT)
            if not data.strip():
                say("empty (no JSON in it)", where=name, part=Part.CONTAINER)
                return None
            return json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            say(f"not valid JSON ({exc})", where=name, part=Part.CONTAINER)
        except CheckforensicsError as exc:
            say(str(exc), part=Part.CONTAINER)
        return None
