"""iocs: indicators of compromise for blocking and hunting, each with every place it was found.

The sources (``sources.SOURCES``) are read in turn; text is read for indicators by
``extract``; the same indicator (type and value) found in several places is one record with all
its places. Addresses whose scope is loopback, link-local or unspecified are left out unless
asked for (``include_local``), and so are URLs to them; documentation ranges (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are kept, as are private ones, each typed by
its ``scope``. Process memory is not searched beyond argv and the environment (memgrep does
that): see docs/commands/iocs.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from checkforensics.analysis.iocs.extract import (
    HOSTNAME,
    IPV4,
    IPV6,
    LOCAL_SCOPES,
    TYPES,
    URL,
    indicators_in,
    ip_scope,
    split_url,
)
from checkforensics.analysis.iocs.sources import SOURCES, Place, Seen, Source
from checkforensics.diagnostics import Part
from checkforensics.errors import CheckforensicsError
from checkforensics.records.declare import Answer, Column, Field, RecordType, Section
from checkforensics.records.values import INTEGER, LIST, TEXT, TIME

if TYPE_CHECKING:
    from checkforensics.model import CheckpointModel


@dataclass
class Indicator:
    """One indicator with every place it was found (each place once, in the order found)."""

    type: str
    value: str
    scope: str | None = None  # addresses only
    ports: list[int] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.places)

    @property
    def source_kinds(self) -> list[str]:
        return list(dict.fromkeys(place.source for place in self.places))


def _local(kind: str, value: str, scope: str | None) -> bool:
    if kind in (IPV4, IPV6):
        return scope in LOCAL_SCOPES
    if kind == HOSTNAME:
        return value == "localhost"
    if kind == URL:
        host = split_url(value)[1]
        try:
            return host is not None and ip_scope(host.strip("[]")) in LOCAL_SCOPES
        except ValueError:
            return host is not None and host.lower() in ("localhost", "localhost.localdomain")
    return False


def find_indicators(
    model: CheckpointModel, *, include_local: bool = False, sources: Iterable[Source] = SOURCES
) -> list[Indicator]:
    """Every indicator of ``sources`` in the checkpoint, by type (``TYPES``' order) then value."""
    found: dict[tuple[str, str], Indicator] = {}
    failed: dict[str, list[str]] = {}  # why, and the sources it stopped

    def add(kind: str, value: str, place: Place, port: int | None) -> None:
        indicator = found.get((kind, value))
        if indicator is None:
            scope = ip_scope(value) if kind in (IPV4, IPV6) else None
            if not include_local and _local(kind, value, scope):
                return
            indicator = found[(kind, value)] = Indicator(kind, value, scope)
        if port is not None and port not in indicator.ports:
            indicator.ports.append(port)
        if place not in indicator.places:
            indicator.places.append(place)

    for source in sources:
        try:
            for item in source.find(model):
                if isinstance(item, Seen):
                    add(item.type, item.value, item.place, item.port)
                    continue
                multiline = "\n" in item.text
                for hit in indicators_in(item.text):
                    add(hit.type, hit.value, item.place.at_line(hit.line, multiline), hit.port)
        except CheckforensicsError as exc:  # this source cannot be read (no images: metadata only); the rest can
            failed.setdefault(str(exc), []).append(source.name)
    for reason, names in failed.items():
        model.diagnostics.warn(f"{reason}; not read (or not all): {', '.join(names)}", part=Part.IOCS)
    order = {kind: index for index, kind in enumerate(TYPES)}
    return sorted(found.values(), key=lambda i: (order[i.type], i.value))


def _where(indicator: Indicator) -> str:
    first = indicator.places[0].where
    return first if indicator.count == 1 else f"{first} (+{indicator.count - 1} more)"


INDICATOR = RecordType(
    "indicator",
    "indicators",
    (
        Field("type", TEXT, "ipv4, ipv6, domain, hostname, url, email, sha256, path"),
        Field("value", TEXT, "addresses compressed, host names lower-case, URLs as written"),
        Field("scope", TEXT, "addresses only: public, private, shared, documentation, multicast, reserved; "
              "loopback, link-local, unspecified with --include-local"),
        Field("ports", LIST, "ports seen with an address (a URL's, ADDRESS:PORT in text, a socket's peer)"),
        Field("count", INTEGER, "how many places it was found in"),
        Field("sources", LIST, "the kinds of place it was found in: files (rootfs-diff, deleted-file, memfd, "
              "/dev/shm, tmpfs ...), argv, environment, container-log, socket", get=lambda i: i.source_kinds),
        Field("places", LIST, "each place: {source, where, and pid, comm, path, line, fd, variable, argument "
              "where they apply}", get=lambda i: [place.json() for place in i.places]),
        Field("archive", TEXT, "the checkpoint it was found in", context=True),
        Field("checkpointed", TIME, "when that checkpoint was taken (show's CHECKPOINTED)", context=True),
    ),
    ("type", "value", "scope", Column("PORTS", get=lambda i: " ".join(map(str, i.ports)) or None), "count",
     Column("FOUND IN", get=_where)),
    "One indicator of compromise with every place it was found.",
)  # fmt: skip


def indicators(model: CheckpointModel, *, include_local: bool = False) -> Answer:
    """iocs' answer: every indicator as an ``INDICATOR`` record."""
    found = find_indicators(model, include_local=include_local)
    return Answer(
        [Section(INDICATOR, found, context={"checkpointed": model.container.checkpointed.time})],
        nothing="no indicator (address, domain, URL, e-mail address, dropped file) in the checkpoint",
    )
