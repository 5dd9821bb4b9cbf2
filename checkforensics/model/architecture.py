"""The machine a checkpoint was taken on: its name, pointer size and byte order.

Each core image (``core-PID.img``) says which machine CRIU dumped it on (``CoreEntry.mtype``). A
pointer or an integer read from memory is read in that machine's terms. CRIU builds for these
machines; x86_64 is what containers run on nearly everywhere, the others are named so that a
checkpoint of one is read right rather than guessed at:

======  ===========  ============  ==========
mtype   name         pointer size  byte order
======  ===========  ============  ==========
1       x86_64       8             little
2       arm          4             little
3       aarch64      8             little
4       ppc64le      8             little (CRIU supports only little-endian ppc64)
5       s390x        8             big
6       mips64el     8             little (CRIU supports only 64-bit little-endian mips)
7       loongarch64  8             little
8       riscv64      8             little
======  ===========  ============  ==========

A checkpoint whose core images name no machine (``UNKNOWN``, 0, or a number CRIU did not have)
or several different ones has an architecture all the same, one that says so, and reading a
pointer or an integer in it raises ``ArchitectureError``; raw bytes still read.

References: images/core.proto (CoreEntry.March), criu/arch/*/include/asm/types.h.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from checkforensics.errors import CheckforensicsError


class ArchitectureError(CheckforensicsError):
    """A pointer or an integer asked for in memory whose machine is not known (or not one)."""


@dataclass(frozen=True)
class Architecture:
    """A machine: ``name`` (``x86_64``), ``pointer_size`` in bytes, ``byte_order`` (``little``
    or ``big``) and CRIU's number for it (``mtype``). For a checkpoint whose machine is not
    known, ``pointer_size`` and ``byte_order`` are None and ``problem`` says why."""

    name: str
    pointer_size: int | None
    byte_order: str | None
    mtype: int | None = None
    problem: str | None = None

    @property
    def known(self) -> bool:
        return self.problem is None

    def require(self) -> tuple[int, str]:
        """``(pointer_size, byte_order)``; ArchitectureError when the machine is not known."""
        if self.pointer_size is None or self.byte_order is None:
            raise ArchitectureError(f"cannot read pointers or integers: {self.problem or 'the machine is unknown'}")
        return self.pointer_size, self.byte_order

    @property
    def struct_order(self) -> str:
        """The ``struct`` byte-order character: ``<`` or ``>``."""
        return "<" if self.require()[1] == "little" else ">"

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "pointer_size": self.pointer_size, "byte_order": self.byte_order}


# CoreEntry.March (images/core.proto) -> the machine; the numbers are CRIU's
ARCHITECTURES: dict[int, Architecture] = {
    arch.mtype: arch  # type: ignore[misc]
    for arch in (
        Architecture("x86_64", 8, "little", 1),
        Architecture("arm", 4, "little", 2),
        Architecture("aarch64", 8, "little", 3),
        Architecture("ppc64le", 8, "little", 4),
        Architecture("s390x", 8, "big", 5),
        Architecture("mips64el", 8, "little", 6),
        Architecture("loongarch64", 8, "little", 7),
        Architecture("riscv64", 8, "little", 8),
    )
}
X86_64 = ARCHITECTURES[1]
UNKNOWN_ARCHITECTURE = Architecture("unknown", None, None, None, "no core image names the machine")


def architecture_of(mtype: int) -> Architecture:
    """The machine CRIU's ``mtype`` names; an unknown one for 0 (UNKNOWN) or a number CRIU does not have."""
    found = ARCHITECTURES.get(mtype)
    if found is not None:
        return found
    why = "the core images say UNKNOWN (0)" if mtype == 0 else f"the core images name machine {mtype}, unknown to CRIU"
    return Architecture("unknown", None, None, mtype, why)


def common_architecture(mtypes: Iterable[int]) -> Architecture:
    """The one machine that every core image (``mtypes``, one per image) names; else one that
    says why there is none: no core image, ``UNKNOWN``, or several machines."""
    seen = sorted(set(mtypes))
    if not seen:
        return UNKNOWN_ARCHITECTURE
    if len(seen) == 1:
        return architecture_of(seen[0])
    names = ", ".join(architecture_of(mtype).name if mtype in ARCHITECTURES else str(mtype) for mtype in seen)
    return Architecture("mixed", None, None, None, f"the core images name several machines ({names})")
