"""The JSON form of CRIU images that CRIU's own ``crit`` reads and writes.

``image_to_dict`` gives, key for key, what ``crit decode`` prints (and with ``pretty=True``
what ``crit show`` prints: hex addresses, flag names, dotted IP addresses, ``major:minor``
devices); ``dict_to_image`` reads either form back for ``crit encode``.  How a field is
printed comes from the ``(fmt)`` options in protos/*.proto, never from field names here.

Fields appear in field-number order (what protobuf's ListFields gives), bytes as base64 with
a newline every 76 characters (Python's ``base64.encodebytes``, as crit), enums by name.
"""

from __future__ import annotations

import ast
import base64
import binascii
import contextvars
import ipaddress
import quopri
import random
import struct
from dataclasses import dataclass
from enum import IntFlag
from functools import cache
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from checkforensics.errors import JsonImageError
from checkforensics.images import flags
from checkforensics.images.codec import Entry, Image
from checkforensics.images.payloads import IpcMessage, TcpQueues
from checkforensics.images.registry import GHOST_CHUNK, KINDS, message_class

_INT_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE})


def _flag_table(flag_type: type[IntFlag]) -> tuple[tuple[str, int], ...]:
    return tuple((name, int(member)) for name, member in flag_type.__members__.items() if int(member))


# The flag tables crit knows, by the name the (fmt).flags option gives.  A field naming any
# other table is printed as hex, as crit does.
FLAG_TABLES: dict[str, tuple[tuple[str, int], ...]] = {
    "mmap.prot": _flag_table(flags.Prot),
    "mmap.flags": _flag_table(flags.MapFlags),
    "mmap.status": _flag_table(flags.VmaStatus),
    "rfile.flags": _flag_table(flags.OpenFlags),
    "pmap.flags": _flag_table(flags.PagemapFlags),
    "seals.flags": _flag_table(flags.Seals),
}

# Value names by table ((fmt).names) and field name.  crit's own spelling and numbering, task
# states included: crit calls 3 "Zombie" and 6 "Stopped" (CRIU's TASK_STOPPED is 3 and
# TASK_ZOMBIE 6); a crit-compatible printer must repeat that, our own views do not.
NAME_TABLES: dict[str, dict[str, dict[int, str]]] = {
    "gen": {"task_state": {1: "Alive", 3: "Zombie", 6: "Stopped"}},
    "sk": {
        "family": {member.value: member.name for member in flags.SockFamily},
        "type": {member.value: member.name for member in flags.SockType},
        "state": {member.value: member.name for member in flags.TcpState},
        "proto": {member.value: member.name for member in flags.IpProto},
    },
}

_KERNEL_MINORBITS = 20


@dataclass(frozen=True)
class FieldFormat:
    """How crit prints one field in pretty mode (from its (fmt) option)."""

    hex: bool = False
    ip: bool = False
    flags: str = ""
    dev: bool = False
    old_dev: bool = False
    names: str = ""
    bytes_as: str = ""


@cache
def field_format(field: FieldDescriptor) -> FieldFormat:
    from checkforensics.images.pb import fmt_pb2

    options = field.GetOptions()
    if not options.HasExtension(fmt_pb2.fmt):
        return FieldFormat()
    opt = options.Extensions[fmt_pb2.fmt]
    return FieldFormat(opt.hex, opt.ip, opt.flags, opt.dev, opt.old_dev, opt.names, opt.bytes_as)


# ---------------------------------------------------------------------------------------------
# Decoding side: message -> dict


def base64_text(data: bytes) -> str:
    """Base64 with a newline every 76 characters and at the end, as crit writes payloads."""
    return base64.encodebytes(data).decode("ascii")


def format_flags(value: int, table: tuple[tuple[str, int], ...]) -> str:
    names = [name for name, bit in table if value & bit]
    rest = value & ~sum(bit for _, bit in table)
    if rest:
        names.append(f"{rest:#x}")
    return " | ".join(names)


def format_dev(value: int, old: bool) -> str:
    if old:  # glibc's dev_t layout
        major = ((value >> 8) & 0xFFF) | ((value >> 32) & ~0xFFF)
        minor = (value & 0xFF) | ((value >> 12) & ~0xFF)
    else:  # the kernel's
        major = value >> _KERNEL_MINORBITS
        minor = value & ((1 << _KERNEL_MINORBITS) - 1)
    return f"{major}:{minor}"


def format_ip(words: list[int]) -> str | list[int]:
    """An address stored as 32-bit words in network byte order, in dotted or colon form."""
    raw = b"".join(struct.pack("<I", word & 0xFFFFFFFF) for word in words)
    if len(words) == 1:
        return ipaddress.IPv4Address(raw).compressed
    if len(words) >= 4:
        return ipaddress.IPv6Address(raw[:16]).compressed
    return list(words)  # neither form: leave the numbers as they are


def _scalar_to_json(field: FieldDescriptor, value: Any, pretty: bool, in_hex: bool) -> Any:
    ftype = field.type
    if ftype == FieldDescriptor.TYPE_MESSAGE:
        return message_to_dict(value, pretty, in_hex or (pretty and field_format(field).hex))
    if ftype == FieldDescriptor.TYPE_BYTES:
        if field_format(field).bytes_as == "unix_name":
            encoded = quopri.encodestring(value)
            try:
                return encoded.decode()
            except UnicodeDecodeError:
                return encoded
        return base64_text(value)
    if ftype == FieldDescriptor.TYPE_ENUM:
        described = field.enum_type.values_by_number.get(value)
        return described.name if described is not None else value
    if ftype in _INT_TYPES:
        value = int(value)
        if not pretty:
            return value
        fmt = field_format(field)
        if in_hex or fmt.hex:
            return f"{value:#x}"
        if fmt.dev:
            return format_dev(value, fmt.old_dev)
        if fmt.flags:
            table = FLAG_TABLES.get(fmt.flags)
            return format_flags(value, table) if table is not None else f"{value:#x}"
        if fmt.names:
            return NAME_TABLES.get(fmt.names, {}).get(field.name, {}).get(value, value)
        return value
    if ftype == FieldDescriptor.TYPE_BOOL:
        return bool(value)
    if ftype in _FLOAT_TYPES:
        return float(value)
    if isinstance(value, bytes):  # a string field holding invalid UTF-8: crit prints str(bytes)
        return str(value)
    return value  # strings


def message_to_dict(message: Any, pretty: bool = False, in_hex: bool = False) -> dict[str, Any]:
    """crit's dict for one protobuf message: set fields only, in field-number order."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.is_repeated:
            if pretty and field_format(field).ip:
                out[field.name] = [format_ip(list(value))]
            else:
                out[field.name] = [_scalar_to_json(field, item, pretty, in_hex) for item in value]
        else:
            out[field.name] = _scalar_to_json(field, value, pretty, in_hex)
    return out


def human_size(num: float) -> str:
    """crit's size for omitted payloads: ``10B``, ``1.5KB``, ``3MB``."""
    for unit in ("", "K", "M", "G", "T", "P", "E", "Z"):
        if num < 1024.0:
            return f"{int(num)}{unit}B" if int(num) == num else f"{num:.1f}{unit}B"
        num /= 1024.0
    return f"{num:.1f}YB"


def _extra_to_json(extra: Any) -> Any:
    if isinstance(extra, bytes):
        return base64_text(extra)
    if isinstance(extra, TcpQueues):
        return {"inq": base64_text(extra.inq), "outq": base64_text(extra.outq)}
    if isinstance(extra, list) and extra and isinstance(extra[0], IpcMessage):
        items: list[Any] = []
        for message in extra:
            items += [message_to_dict(message.header), base64_text(message.data)]
        return items
    return extra  # semaphore values: a list of ints


def entry_to_dict(entry: Entry, pretty: bool) -> dict[str, Any]:
    out = message_to_dict(entry.message, pretty)
    if entry.extra is not None:
        out["extra"] = _extra_to_json(entry.extra)
    elif entry.extra_size is not None:
        out["extra"] = f"... <{human_size(entry.extra_size)}>"
    return out


def image_to_dict(image: Image, pretty: bool = False) -> dict[str, Any]:
    """``{"magic": NAME, "entries": [...]}`` exactly as crit decode (or show, if pretty) gives it."""
    return {"magic": image.magic, "entries": [entry_to_dict(entry, pretty) for entry in image.entries]}


# ---------------------------------------------------------------------------------------------
# Encoding side: dict -> message


def _bytes_from_json(field: FieldDescriptor, value: Any) -> bytes:
    if field_format(field).bytes_as == "unix_name":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return quopri.decodestring(raw)
    return base64_decode(value, field.name)


def base64_decode(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise JsonImageError(f"{what}: expected a base64 string, got {type(value).__name__}")
    try:
        return base64.decodebytes(value.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise JsonImageError(f"{what}: not base64 ({exc})") from None


def _parse_flags(text: str, table: tuple[tuple[str, int], ...]) -> int:
    if text.strip() == "":
        return 0
    names = dict(table)
    total = 0
    for part in text.split("|"):
        token = part.strip()
        total += names[token] if token in names else int(token, 0)
    return total


def _parse_dev(text: str, old: bool) -> int:
    major, minor = (int(part) for part in text.split(":"))
    if old:
        return (
            ((major & 0xFFFFF000) << 32)
            | ((major & 0xFFF) << 8)
            | ((minor & 0xFFFFFF00) << 12)
            | (minor & 0xFF)
        )
    return major << _KERNEL_MINORBITS | minor


def _int_from_json(field: FieldDescriptor, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise JsonImageError(f"{field.name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    fmt = field_format(field)
    try:
        if fmt.dev:
            return _parse_dev(value, fmt.old_dev)
        if fmt.flags and fmt.flags in FLAG_TABLES:
            return _parse_flags(value, FLAG_TABLES[fmt.flags])
        if fmt.names:
            names = NAME_TABLES.get(fmt.names, {}).get(field.name, {})
            for number, name in names.items():
                if name == value:
                    return number
        return int(value, 0)
    except (ValueError, KeyError):
        raise JsonImageError(f"{field.name}: cannot read {value!r} as a number") from None


def _scalar_from_json(field: FieldDescriptor, value: Any) -> Any:
    ftype = field.type
    if ftype == FieldDescriptor.TYPE_BYTES:
        return _bytes_from_json(field, value)
    if ftype == FieldDescriptor.TYPE_ENUM:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        described = field.enum_type.values_by_name.get(value)
        if described is None:
            raise JsonImageError(f"{field.name}: {value!r} is not a value of {field.enum_type.name}")
        return described.number
    if ftype in _INT_TYPES:
        return _int_from_json(field, value)
    if ftype == FieldDescriptor.TYPE_BOOL:
        return bool(value)
    if ftype in _FLOAT_TYPES:
        return float(value)
    if not isinstance(value, str):
        raise JsonImageError(f"{field.name}: expected a string, got {value!r}")
    raw = _bytes_literal(value)
    if raw is not None:
        return _placeholder(raw)
    return value


# Invalid UTF-8 in a string field. crit (and so we) print such a value as Python shows bytes,
# ``b'bad\xff\xfe'``: unambiguous, unlike an escaped string. Read back, it must become those
# bytes again, but protobuf only takes valid UTF-8 in a string field: the field gets a unique
# placeholder of the same length, which encode_image swaps for the bytes (same length: no
# length prefix changes). Text that merely looks like a bytes literal but is valid UTF-8 stays
# text, so an ordinary name such as "b'x'" is never altered.
_RAW_STRINGS: contextvars.ContextVar[dict[bytes, bytes]] = contextvars.ContextVar("raw_strings")


def _bytes_literal(text: str) -> bytes | None:
    if len(text) < 3 or text[:2] not in ("b'", 'b"') or text[-1] != text[1]:
        return None
    try:
        raw = ast.literal_eval(text)
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw if isinstance(raw, bytes) else None
    except (ValueError, SyntaxError):
        return None
    return None


def _placeholder(raw: bytes) -> str:
    pending = _RAW_STRINGS.get(None)
    if pending is None:
        raise JsonImageError("a non-UTF-8 string outside an image entry")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    while True:
        text = "".join(random.choice(alphabet) for _ in range(len(raw)))
        if text.encode() not in pending:
            pending[text.encode()] = raw
            return text


def _ip_words(text: str) -> list[int]:
    try:
        packed = ipaddress.ip_address(text).packed
    except ValueError:
        raise JsonImageError(f"{text!r} is not an IP address") from None
    return [struct.unpack("<I", packed[i : i + 4])[0] for i in range(0, len(packed), 4)]


def dict_to_message(data: Any, message: Any) -> Any:
    """Fill ``message`` from crit's dict form (plain or pretty); returns it."""
    if not isinstance(data, dict):
        raise JsonImageError(f"{message.DESCRIPTOR.name}: expected an object, got {type(data).__name__}")
    for field in message.DESCRIPTOR.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        try:
            _set_field(message, field, value)
        except (TypeError, ValueError) as exc:
            raise JsonImageError(f"{message.DESCRIPTOR.name}.{field.name}: {exc}") from None
    return message


def _set_field(message: Any, field: FieldDescriptor, value: Any) -> None:
    if field.is_repeated:
        if not isinstance(value, list):
            raise JsonImageError(f"{field.name}: expected a list")
        target = getattr(message, field.name)
        if value and isinstance(value[0], str) and field_format(field).ip:
            target.extend(_ip_words(value[0]))
            return
        for item in value:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                dict_to_message(item, target.add())
            else:
                target.append(_scalar_from_json(field, item))
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        sub = getattr(message, field.name)
        sub.SetInParent()  # present even when empty, as in the original
        dict_to_message(value, sub)
    else:
        setattr(message, field.name, _scalar_from_json(field, value))


def _extra_from_json(kind_name: str, value: Any) -> Any:
    if kind_name == "TCP_STREAM":
        if not isinstance(value, dict):
            raise JsonImageError("TCP_STREAM extra: expected {inq, outq}")
        return TcpQueues(base64_decode(value.get("inq", ""), "inq"), base64_decode(value.get("outq", ""), "outq"))
    if kind_name == "IPCNS_SEM":
        if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
            raise JsonImageError("IPCNS_SEM extra: expected a list of integers")
        return list(value)
    if kind_name == "IPCNS_MSG":
        if not isinstance(value, list) or len(value) % 2:
            raise JsonImageError("IPCNS_MSG extra: expected header/data pairs")
        header_class = message_class("ipc_msg:IpcMsg")
        return [
            IpcMessage(dict_to_message(value[i], header_class()), base64_decode(value[i + 1], "message text"))
            for i in range(0, len(value), 2)
        ]
    return base64_decode(value, f"{kind_name} extra")


def dict_to_image(data: Any, where: str = "<json>") -> Image:
    """An Image from crit's JSON form, ready for ``encode_image``."""
    if not isinstance(data, dict) or "magic" not in data or not isinstance(data.get("entries"), list):
        raise JsonImageError('not a CRIU image in JSON form (needs "magic" and "entries")', where=where)
    kind = KINDS.get(data["magic"])
    if kind is None:
        raise JsonImageError(f"no encoder for {data['magic']!r} images", where=where)
    image = Image(kind, where=where)
    for index, item in enumerate(data["entries"]):
        if kind.ghost:
            cls = message_class("ghost_file:GhostFileEntry") if index == 0 else message_class(GHOST_CHUNK)
        else:
            cls = kind.head_class() if index == 0 else kind.entry_class()
        if not isinstance(item, dict):
            raise JsonImageError(f"entry {index}: expected an object", where=where)
        fields = {key: value for key, value in item.items() if key != "extra"}
        raw_strings: dict[bytes, bytes] = {}
        token = _RAW_STRINGS.set(raw_strings)
        try:
            message = dict_to_message(fields, cls())
        except JsonImageError as exc:
            raise exc.located(where) from None
        finally:
            _RAW_STRINGS.reset(token)
        entry = Entry(message, offset=-1, raw_strings=raw_strings)
        extra = item.get("extra")
        if extra not in (None, ""):
            entry.extra = base64_decode(extra, "extra") if kind.ghost else _extra_from_json(kind.name, extra)
        image.entries.append(entry)
    return image
