"""Extra payloads: the raw bytes some images carry after an entry, sized by that entry.

Each payload kind reads its bytes from a Reader (bounded, checked), writes them back for the
encoder, and says how many bytes it holds without reading them (``crit show --nopl``).

References: criu/pipes.c, criu/sk-queue.c, criu/sk-tcp.c, criu/ipc_ns.c, criu/bpfmap.c (CRIU 4.2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Protocol

from checkforensics.errors import ImageError
from checkforensics.images.framing import Reader, frame_entry, parse_entry, round_up


@dataclass(frozen=True)
class TcpQueues:
    """The unread receive queue and unsent send queue of a TCP connection."""

    inq: bytes
    outq: bytes


@dataclass(frozen=True)
class IpcMessage:
    """One queued System V message: its header entry and its text."""

    header: Any  # IpcMsg protobuf message
    data: bytes


class Payload(Protocol):
    def read(self, reader: Reader, entry: Any) -> Any: ...

    def write(self, extra: Any, entry: Any) -> bytes: ...

    def size(self, reader: Reader, entry: Any) -> int: ...


def _field(entry: Any, name: str) -> int:
    return int(getattr(entry, name))


@dataclass(frozen=True)
class BlobPayload:
    """A blob whose length is the sum of some entry fields (pipe data, socket queues, bpf maps)."""

    length_fields: tuple[str, ...]
    what: str

    def length(self, entry: Any) -> int:
        return sum(_field(entry, name) for name in self.length_fields)

    def read(self, reader: Reader, entry: Any) -> bytes:
        return reader.take(self.length(entry), self.what)

    def write(self, extra: bytes, entry: Any) -> bytes:
        return extra

    def size(self, reader: Reader, entry: Any) -> int:
        length = self.length(entry)
        reader.skip(length, self.what)
        return length


class TcpQueuesPayload:
    """tcp-stream-*.img: the receive queue (``inq_len`` bytes) then the send queue (``outq_len``)."""

    def read(self, reader: Reader, entry: Any) -> TcpQueues:
        inq = reader.take(entry.inq_len, "TCP receive queue")
        outq = reader.take(entry.outq_len, "TCP send queue")
        return TcpQueues(inq, outq)

    def write(self, extra: TcpQueues, entry: Any) -> bytes:
        return extra.inq + extra.outq

    def size(self, reader: Reader, entry: Any) -> int:
        reader.skip(entry.inq_len + entry.outq_len, "TCP queues")
        return entry.inq_len + entry.outq_len


class IpcShmPayload:
    """ipcns-shm: the segment's ``size`` bytes, padded to 4 — unless ``in_pagemaps``, when the
    contents are in a pagemap/pages pair and nothing follows the entry (crit reads the next
    entries as contents there)."""

    def read(self, reader: Reader, entry: Any) -> bytes:
        if entry.HasField("in_pagemaps") and entry.in_pagemaps:
            return b""
        data = reader.take(entry.size, "shared memory segment")
        reader.skip(round_up(entry.size, 4) - entry.size, "shared memory padding")
        return data

    def write(self, extra: bytes, entry: Any) -> bytes:
        if entry.HasField("in_pagemaps") and entry.in_pagemaps:
            return b""
        data = extra[: entry.size]
        return data + b"\0" * (round_up(entry.size, 4) - len(data))

    def size(self, reader: Reader, entry: Any) -> int:
        if entry.HasField("in_pagemaps") and entry.in_pagemaps:
            return 0
        reader.skip(round_up(entry.size, 4), "shared memory segment")
        return entry.size


class IpcSemPayload:
    """ipcns-sem: ``nsems`` unsigned 16-bit semaphore values, padded to 8 bytes."""

    def read(self, reader: Reader, entry: Any) -> list[int]:
        size = 2 * entry.nsems
        data = reader.take(size, "semaphore values")
        reader.skip(round_up(size, 8) - size, "semaphore padding")
        return list(struct.unpack(f"<{entry.nsems}H", data))

    def write(self, extra: list[int], entry: Any) -> bytes:
        if len(extra) != entry.nsems:
            raise ImageError(f"{len(extra)} semaphore values given for nsems {entry.nsems}")
        data = struct.pack(f"<{entry.nsems}H", *extra)
        return data + b"\0" * (round_up(len(data), 8) - len(data))

    def size(self, reader: Reader, entry: Any) -> int:
        reader.skip(round_up(2 * entry.nsems, 8), "semaphore values")
        return 2 * entry.nsems


class IpcMsgPayload:
    """ipcns-msg: ``qnum`` messages, each a size-prefixed IpcMsg then ``msize`` bytes padded to 8."""

    def __init__(self, header_class: Any) -> None:
        self.header_class = header_class

    def _headers(self, reader: Reader, entry: Any, *, keep_data: bool) -> tuple[list[IpcMessage], int]:
        messages: list[IpcMessage] = []
        total = 0
        for _ in range(entry.qnum):
            if reader.at_end():
                break
            start = reader.offset
            size = reader.entry_size()
            header = self.header_class()
            parse_entry(header, reader.take(size, "message header"), reader.where, start)
            padded = round_up(header.msize, 8)
            total += size + header.msize
            if keep_data:
                data = reader.take(header.msize, "message text")
                reader.skip(padded - header.msize, "message padding")
                messages.append(IpcMessage(header, data))
            else:
                reader.skip(padded, "message text")
        return messages, total

    def read(self, reader: Reader, entry: Any) -> list[IpcMessage]:
        return self._headers(reader, entry, keep_data=True)[0]

    def write(self, extra: list[IpcMessage], entry: Any) -> bytes:
        out = bytearray()
        for message in extra:
            out += frame_entry(message.header.SerializeToString())
            data = message.data[: message.header.msize]
            out += data + b"\0" * (round_up(message.header.msize, 8) - len(data))
        return bytes(out)

    def size(self, reader: Reader, entry: Any) -> int:
        return self._headers(reader, entry, keep_data=False)[1]

