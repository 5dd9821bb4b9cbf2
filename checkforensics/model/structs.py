"""Reading what a program keeps in memory by address: integers, pointers, C strings, structures.

``StructReader`` is mixed into every memory view (``AddressSpace``, ``ProcessMemory``,
``SharedMemory``): given the view's ``read(address, size)`` and its ``architecture``, it reads
values in the checkpointed machine's pointer size and byte order, so that a walker of a heap or
a list says ``memory.read_pointer(node + 8)`` and never ``struct.unpack("<Q", ...)``.

Memory that is not in the checkpoint raises the view's ``MemoryUnavailableError``, naming the
first address missing; a pointer or integer in a checkpoint whose machine is unknown raises
``ArchitectureError`` (raw bytes and C strings still read).

A structure's layout is a ``struct`` format (or ``struct.Struct``). Without a byte-order
character of its own it is read in the machine's byte order, with standard sizes and no
padding (write padding as ``x``), and ``P`` stands for a pointer, ``N``/``n`` for ``size_t``
and ``ssize_t``: all the machine's pointer size (``l``/``L`` stay 4 bytes, as in standard
``struct``: write a 64-bit ``long`` as ``q``/``Q``). A layout with its own byte order (``<``,
``>``, ``!``) is read as it says; native ones (``@``, ``=``) are refused: they would read the
analysing machine's sizes or order, not the checkpointed one's.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from checkforensics.images.flags import PAGE_SIZE

if TYPE_CHECKING:
    from checkforensics.model.architecture import Architecture

DEFAULT_STRING_LIMIT = 4096  # bytes of a C string read at most, unless told otherwise
_POINTER_CODES = {4: "I", 8: "Q"}
_INTEGER_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class StructReader:
    """Typed reads over ``read(address, size)`` in the terms of ``architecture``."""

    architecture: Architecture

    if TYPE_CHECKING:

        def read(self, address: int, size: int) -> bytes: ...  # every view has its own

    def read_int(self, address: int, size: int, *, signed: bool = False) -> int:
        """The ``size``-byte integer (1, 2, 4 or 8) at ``address``, in the machine's byte order."""
        if size not in _INTEGER_CODES:
            raise ValueError(f"an integer is 1, 2, 4 or 8 bytes, not {size}")
        _, order = self.architecture.require()
        return int.from_bytes(self.read(address, size), order, signed=signed)  # type: ignore[arg-type]

    def read_u16(self, address: int) -> int:
        return self.read_int(address, 2)

    def read_u32(self, address: int) -> int:
        return self.read_int(address, 4)

    def read_u64(self, address: int) -> int:
        return self.read_int(address, 8)

    def read_pointer(self, address: int) -> int:
        """The pointer at ``address``: the machine's pointer size and byte order."""
        size, order = self.architecture.require()
        return int.from_bytes(self.read(address, size), order)  # type: ignore[arg-type]

    def read_pointers(self, address: int, count: int) -> list[int]:
        """``count`` pointers one after the other from ``address`` (an array: argv, auxv, a table)."""
        size, _ = self.architecture.require()
        if count <= 0:
            return []
        layout = _layout(f"{count}{_POINTER_CODES[size]}", self.architecture.struct_order, size)
        return list(layout.unpack(self.read(address, layout.size)))

    def read_cstring(self, address: int, limit: int = DEFAULT_STRING_LIMIT) -> bytes:
        """The bytes from ``address`` up to the first NUL (left out), at most ``limit`` of them: a
        string as long as ``limit`` or longer comes back cut to ``limit`` bytes.

        Read page by page, so a string that ends before memory that was not dumped reads, and one
        that runs into it raises MemoryUnavailableError naming the first address missing."""
        if limit < 0:
            raise ValueError("the limit of a string is a number of bytes, 0 or more")
        out = bytearray()
        cursor = address
        while len(out) < limit:
            take = min(PAGE_SIZE - cursor % PAGE_SIZE, limit - len(out))
            piece = self.read(cursor, take)
            end = piece.find(b"\x00")
            if end != -1:
                return bytes(out + piece[:end])
            out += piece
            cursor += take
        return bytes(out)

    def read_struct(self, address: int, layout: str | struct.Struct) -> tuple[Any, ...]:
        """The values of structure ``layout`` (a ``struct`` format or ``Struct``; see the module
        for how sizes and byte order are read) at ``address``."""
        compiled = self.struct_layout(layout)
        return compiled.unpack(self.read(address, compiled.size))

    def struct_layout(self, layout: str | struct.Struct) -> struct.Struct:
        """``layout`` as this memory reads it (its size: ``.size``)."""
        form = layout.format if isinstance(layout, struct.Struct) else layout
        if form[:1] in ("<", ">", "!"):
            return layout if isinstance(layout, struct.Struct) else _layout(form, "", 0)
        if form[:1] in ("@", "="):
            raise ValueError(f"layout {form!r}: native sizes or byte order are the analysing machine's; leave them out")
        size, _ = self.architecture.require()
        return _layout(form, self.architecture.struct_order, size)


@lru_cache(maxsize=256)
def _layout(form: str, order: str, pointer_size: int) -> struct.Struct:
    """``form`` with ``order`` in front, ``P``/``N``/``n`` as integers of ``pointer_size``."""
    if pointer_size:
        unsigned = _POINTER_CODES[pointer_size]
        form = form.replace("P", unsigned).replace("N", unsigned).replace("n", unsigned.lower())
    try:
        return struct.Struct(order + form)
    except struct.error as exc:
        raise ValueError(f"layout {form!r}: {exc}") from None
