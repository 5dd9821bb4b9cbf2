"""Opening the evidence: a checkpoint archive or directory, listed and read in place.

``Checkpoint.open(path)`` takes a tar archive (plain, gzip, zstd, xz or bzip2, recognised by its
first bytes, never its name), an extracted archive directory (``checkpoint/`` beside
``config.dump``, ``spec.dump``, ...) or a bare ``criu dump -D`` images directory.  It lists the
members once, at open, and reads them on demand:

- a plain tar is listed by walking its headers (seeking over the data); members are read with
  ``pread`` at the offset their bytes sit at, which ``member_range`` hands out for ``mmap``;
- a compressed tar is listed in one streaming pass that keeps the bytes of small members in
  memory, and copies the big members the caller will read (``spool``) into an unlinked
  temporary file (``spool``); other big members are read by streaming the archive again;
- a directory is walked without following symbolic links, and a file is only ever opened when
  it still is the regular file that was listed, inside the directory.

Inputs are opened read-only (with ``O_NOATIME`` where the kernel allows it, so reading leaves
even the access times alone); this layer never extracts, and writes nothing but a spool, a
file without a name in the temporary directory.  Hostile
members (``..``, absolute names, links leading out, device nodes, duplicates) are listed with a
warning and never followed; a truncated archive lists the members that are whole.

The modules, in the order data flows through them:

- ``layout``: what an input is (archive kind by content) and where its CRIU images lie;
- ``fileio``: read-only opens, ``pread``, byte-range views, hashing;
- ``tarheader``, ``tarscan``: one tar header block, and walking a stream of them;
- ``members``: ``MemberInfo``, the listing and its warnings about hostile names;
- ``plaintar``, ``compressed``, ``directory``: the three kinds of input; ``spool``: a
  compressed archive's big members, kept from its one pass; ``decompression``: the
  decompressors and the expansion limit every compressed stream is held to;
- ``layers``: the tar layers inside a checkpoint (rootfs-diff.tar, tmpfs archives), read by
  their content, streaming;
- ``checkpoint``: ``Checkpoint``, the public face.

The limits re-exported here are for reading; the code looks them up in their own modules
(``compressed``, ``decompression``, ``tarscan``, ``members``), which is where a test changes them.
"""

from __future__ import annotations

from checkforensics.archive.checkpoint import Checkpoint
from checkforensics.archive.compressed import CACHE_LIMIT, SMALL_MEMBER_LIMIT
from checkforensics.archive.decompression import MAX_EXPANSION_RATIO, MIN_EXPANSION_BUDGET
from checkforensics.archive.layout import IMAGES_DIR, detect_kind
from checkforensics.archive.members import KINDS, MAX_MEMBERS, MemberInfo, normalise_name
from checkforensics.archive.tarheader import BLOCK, looks_like_tar_header
from checkforensics.archive.tarscan import EXTENDED_HEADER_LIMIT

__all__ = [
    "BLOCK",
    "CACHE_LIMIT",
    "EXTENDED_HEADER_LIMIT",
    "IMAGES_DIR",
    "KINDS",
    "MAX_EXPANSION_RATIO",
    "MAX_MEMBERS",
    "MIN_EXPANSION_BUDGET",
    "SMALL_MEMBER_LIMIT",
    "Checkpoint",
    "MemberInfo",
    "detect_kind",
    "looks_like_tar_header",
    "normalise_name",
]
