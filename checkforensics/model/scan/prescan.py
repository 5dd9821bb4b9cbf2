"""Screening pages images as a streamed archive's one pass goes by them.

A compressed archive is decompressed from its start to list it, and again to read any member
not kept then; for a memory search that meant decompressing every pages image twice. A
``PagesScreen`` is handed to ``CheckpointModel.open`` as its tap: the listing pass pours each
pages image into it, and it keeps the stretches where a pattern *could* match (the stretch, with
``pad`` bytes either side) and nothing else. The search then scans those stretches, by region,
exactly as it would scan the whole image, and the archive is not decompressed again.

Why that finds what a full search finds: the screen searches the raw pages image, in file order,
before any process, mapping or region is known. A match that a region-by-region search finds at
some byte is, in the raw image, a match starting at that same byte, when the bytes of the region
lie next to each other in the image (the search checks that; a region that does not is searched
the usual way) and the pattern reads nothing outside its match: no anchors, word boundaries or
lookarounds (a screen is not used for such patterns). So every block of the image holding the
start of a match holds the start of some raw match, which is what the screen looks for, block by
block. A block with no raw match start holds no match start: the search may skip it.

The stretches kept are bounded (``KEEP_LIMIT`` over all images): a pattern found everywhere
(``\\x00``) makes the screen give the image up, and that image is searched the usual way.
"""

from __future__ import annotations

from dataclasses import dataclass

from checkforensics.archive import MemberInfo
from checkforensics.archive.members import is_pages_image
from checkforensics.model.scan.patterns import SearchPattern

KEEP_LIMIT = 64 << 20  # bytes of candidate stretches kept over all pages images, at most


@dataclass(frozen=True)
class Stretch:
    """Bytes ``[start, start + len(data))`` of a pages image, in which only the match starts in
    ``[own_from, own_to)`` count (the bytes around them are context and room for a whole match)."""

    start: int
    own_from: int
    own_to: int
    data: bytes


class PagesScreen:
    """The tap of a memory search: screens every pages image a streamed listing pass goes by."""

    def __init__(self, patterns: list[SearchPattern], context: int, keep_limit: int = KEEP_LIMIT) -> None:
        self.patterns = patterns
        self.context = context
        self.usable = bool(patterns) and all(reads_only_its_match(pattern) for pattern in patterns)
        self.pad = max((pattern.max_length for pattern in patterns), default=1) + context
        self.keep_limit = keep_limit
        self.kept_bytes = 0
        self._images: dict[str, _ImageScreen] = {}

    def __call__(self, info: MemberInfo) -> _ImageScreen | None:
        """A reader for member ``info`` if it is a pages image worth screening."""
        if not self.usable or not is_pages_image(info):
            return None
        earlier = self._images.pop(info.name, None)
        if earlier is not None:  # a duplicate member replaces the earlier one, as in the listing
            earlier.give_up()
        screen = self._images[info.name] = _ImageScreen(self, info.size)
        return screen

    def serves(self, patterns: list[SearchPattern], context: int) -> bool:
        """Whether what this screen kept answers a search for ``patterns`` with ``context``
        bytes around each match: the same patterns, and no more context than it kept."""
        return self.usable and patterns == self.patterns and context <= self.context

    def stretches(self, member: str) -> list[Stretch] | None:
        """The stretches of pages image ``member`` that may hold a match, in file order; None when
        the image was not screened whole (then it must be searched the usual way)."""
        screen = self._images.get(member)
        if screen is None or not screen.complete:
            return None
        return screen.stretches


class _ImageScreen:
    """One pages image, fed block by block: which blocks hold a raw match start, and their bytes.

    Block ``k`` owns the starts from where block ``k-1``'s stopped to ``pad`` bytes before its end
    (to the image's end for the last), so a match starting there lies wholly in what was fed.
    """

    def __init__(self, owner: PagesScreen, size: int) -> None:
        self._owner = owner
        self._size = size
        self._position = 0  # offset of the next byte fed
        self._owned_to = 0  # starts below this are screened
        self._tail = b""  # the last 2 * pad bytes fed, from _position - len(_tail)
        self.stretches: list[Stretch] = []
        self.complete = False
        self._given_up = False

    def feed(self, buffer: bytearray, size: int) -> bool:
        if self._given_up:
            return False
        pad = self._owner.pad
        start, end = self._position, self._position + size
        own_from = self._owned_to
        own_to = end if end >= self._size else max(own_from, end - pad)
        if own_to > own_from:
            if self._matches(buffer, size, start, own_from, own_to):
                self._keep(buffer, size, start, own_from, own_to)
                if self._given_up:
                    return False
            self._owned_to = own_to
        self._position = end
        kept = 2 * pad
        last = bytes(buffer[max(0, size - kept) : size])
        self._tail = (self._tail + last)[-kept:] if size < kept else last
        return True

    def end(self, complete: bool) -> None:
        self.complete = complete and not self._given_up and self._owned_to >= self._size
        self._tail = b""

    def give_up(self) -> None:
        self._owner.kept_bytes -= sum(len(stretch.data) for stretch in self.stretches)
        self.stretches = []
        self._given_up = True
        self.complete = False

    def _matches(self, buffer: bytearray, size: int, start: int, own_from: int, own_to: int) -> bool:
        """Whether a pattern matches raw bytes starting in [own_from, own_to)."""
        tail_start = start - len(self._tail)
        pad = self._owner.pad
        seam_to = min(own_to, start + pad)
        if own_from < seam_to:  # starts in the tail and the block's first pad bytes: glued
            seam = self._tail + bytes(buffer[: min(size, 2 * pad)])
            if _any_match(self._owner.patterns, seam, len(seam), own_from - tail_start, seam_to - tail_start):
                return True
        first = max(own_from, start + pad)
        return first < own_to and _any_match(self._owner.patterns, buffer, size, first - start, own_to - start)

    def _keep(self, buffer: bytearray, size: int, start: int, own_from: int, own_to: int) -> None:
        pad = self._owner.pad
        keep_from = max(0, own_from - pad, start - len(self._tail))
        keep_to = min(self._size, own_to + pad, start + size)
        if keep_from < start:
            piece = self._tail[keep_from - (start - len(self._tail)) :] + bytes(buffer[: keep_to - start])
        else:
            piece = bytes(buffer[keep_from - start : keep_to - start])
        last = self.stretches[-1] if self.stretches else None
        if last is not None and last.own_to == own_from and last.start + len(last.data) >= keep_from:
            # the block goes on from the last one kept: one stretch
            overlap = last.start + len(last.data) - keep_from
            self.stretches[-1] = Stretch(last.start, last.own_from, own_to, last.data + piece[overlap:])
            self._owner.kept_bytes += len(piece) - overlap
        else:
            self.stretches.append(Stretch(keep_from, own_from, own_to, piece))
            self._owner.kept_bytes += len(piece)
        if self._owner.kept_bytes > self._owner.keep_limit:
            self.give_up()


def _any_match(patterns: list[SearchPattern], buffer: bytes | bytearray, size: int, first: int, limit: int) -> bool:
    """Whether a pattern has a match in ``buffer[:size]`` starting in [first, limit)."""
    folded: bytes | None = None
    for pattern in patterns:
        literal = pattern.literal
        if literal is None:
            found = pattern.regex.search(buffer, first, size)
            if found is not None and found.start() < limit:
                return True
        elif pattern.ignore_case:
            if folded is None:
                folded = bytes(buffer[first:size]).lower()
            if folded.find(literal, 0, min(len(folded), limit - first + len(literal) - 1)) != -1:
                return True
        elif buffer.find(literal, first, min(size, limit + len(literal) - 1)) != -1:
            return True
    return False


def reads_only_its_match(pattern: SearchPattern) -> bool:
    """Whether ``pattern`` matches depends only on the bytes of its match: no anchors,
    word boundaries or lookarounds (which read beyond where a region ends)."""
    if pattern.literal is not None:
        return True
    try:
        from re import _constants as op
        from re import _parser

        tree = _parser.parse(pattern.regex.pattern, pattern.regex.flags)
    except Exception:  # a private module: if it ever changes, do not screen
        return False
    return _plain(tree, op)


def _plain(tree: object, op: object) -> bool:
    for code, value in tree:  # type: ignore[attr-defined]
        if code in (op.AT, op.ASSERT, op.ASSERT_NOT, op.GROUPREF_EXISTS):  # type: ignore[attr-defined]
            return False
        if code is op.SUBPATTERN and not _plain(value[-1], op):  # type: ignore[attr-defined]
            return False
        if code is op.ATOMIC_GROUP and not _plain(value, op):  # type: ignore[attr-defined]
            return False
        if code in (op.MAX_REPEAT, op.MIN_REPEAT, op.POSSESSIVE_REPEAT) and not _plain(value[2], op):  # type: ignore[attr-defined]
            return False
        if code is op.BRANCH and not all(_plain(branch, op) for branch in value[1]):  # type: ignore[attr-defined]
            return False
    return True
