"""iocs as a STIX 2.1 bundle (``--format stix``), built with the field's library, ``stix2``
(an optional extra: ``pip install 'checkforensics[stix]'``).

For each indicator, from its declared record (``INDICATOR``'s JSON form, so the bundle says
what the JSON says): the observables (``ipv4-addr``, ``ipv6-addr``, ``domain-name``, ``url``,
``email-addr``, ``file`` with its SHA-256, ``file`` and ``directory`` for a path); an
``observed-data`` of them (first and last observed: when the checkpoints were taken, observed as
many times as places); an ``indicator`` with its STIX pattern (``[ipv4-addr:value = '…']``,
``[file:hashes.'SHA-256' = '…']``, ...), ``based-on`` that observed data through a
``relationship``; and a ``note`` naming every place it was found. An ``identity`` of
checkforensics made them all. Identifiers are version 5 UUIDs over the indicator's type and
value, marked version 4 (``_id``; the observables' are stix2's own version 5 ones, as STIX
wants them), and every time is the checkpoint's,
so the same checkpoint gives the same bundle on every run. Host names without a domain
(``hostname``) have no STIX observable of their own and are left out.

References: STIX 2.1 (OASIS, 2021), sections 3.2 (identifiers), 4.7 (indicator), 4.13
(observed-data), 4.12 (note), 6 (cyber-observable objects), 9 (patterning).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

from checkforensics.render.escape import json_text

if TYPE_CHECKING:
    from checkforensics.records.declare import Answer

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "checkforensics iocs")
TOOL = "checkforensics"


def _id(kind: str, *words: str) -> str:
    """``kind--UUID``: the bits of a version 5 UUID over ``words`` marked version 4, as STIX
    asks of the objects a producer makes (2.1, section 2.9: UUIDv4 SHOULD be used), and the
    same on every run."""
    return f"{kind}--{uuid.UUID(bytes=uuid.uuid5(NAMESPACE, chr(31).join(words)).bytes, version=4)}"


def _timestamp(value: Any) -> str:
    """An RFC 3339 time as a STIX timestamp: UTC, at most milliseconds (the checkpoint's
    nanoseconds cut; STIX 2.1 section 3.2 allows any precision, stix2 parses microseconds)."""
    text = str(value)
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z$", text)
    if match is None:
        return text
    return match[1] + (match[2][:4] if match[2] else "") + "Z"


def _quoted(value: str) -> str:
    """A string literal of a STIX pattern (backslash and quote escaped, section 9.2)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _observables(kind: str, value: str) -> tuple[list[Any], str] | None:
    """The cyber-observable objects of an indicator and its pattern; None for a type STIX has none for."""
    import stix2

    simple = {"ipv4": (stix2.IPv4Address, "ipv4-addr"), "ipv6": (stix2.IPv6Address, "ipv6-addr"),
              "domain": (stix2.DomainName, "domain-name"), "url": (stix2.URL, "url"),
              "email": (stix2.EmailAddress, "email-addr")}  # fmt: skip
    if kind in simple:
        made, name = simple[kind]
        return [made(value=value)], f"[{name}:value = {_quoted(value)}]"
    if kind == "sha256":
        return [stix2.File(hashes={"SHA-256": value})], f"[file:hashes.'SHA-256' = {_quoted(value)}]"
    if kind == "path":
        folder, _, name = value.rpartition("/")
        if not folder.startswith("/") or not name:  # memfd:NAME and the like: a name only
            return [stix2.File(name=value)], f"[file:name = {_quoted(value)}]"
        directory = stix2.Directory(path=folder)
        pattern = f"[file:name = {_quoted(name)} AND file:parent_directory_ref.path = {_quoted(folder)}]"
        return [directory, stix2.File(name=name, parent_directory_ref=directory.id)], pattern
    return None


def _grouped(answer: Answer) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The answer's indicator records (JSON forms) by type and value: with several checkpoints
    one indicator can come once from each."""
    from checkforensics.render.sections import section_lines

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for section in answer.sections:
        for record in section_lines(section):
            groups.setdefault((record["type"], record["value"]), []).append(record)
    return groups


def _note(records: list[dict[str, Any]]) -> str:
    several = len({record.get("archive") for record in records}) > 1
    lines = []
    for record in records:
        for place in record["places"]:
            prefix = f"{record.get('archive')}: " if several else ""
            lines.append(f"{prefix}{place['source']}: {place['where']}")
    return "\n".join(lines)


def bundle_objects(answer: Answer) -> Iterator[Any]:
    """The bundle's objects: the tool's identity (made when the first checkpoint was taken),
    then each indicator's observables, observed data, indicator, relationship and note."""
    import stix2

    groups = _grouped(answer)
    earliest = min((_timestamp(r.get("checkpointed")) for records in groups.values() for r in records), default=None)
    identity = stix2.Identity(id=_id("identity", TOOL), name=TOOL, identity_class="system",
                              created=earliest, modified=earliest)  # fmt: skip
    yield identity
    for (kind, value), records in groups.items():
        made = _observables(kind, value)
        if made is None:
            continue
        observables, pattern = made
        times = sorted(_timestamp(record.get("checkpointed")) for record in records)
        first, last = times[0], times[-1]
        count = sum(record["count"] for record in records)
        common = {"created_by_ref": identity.id, "created": first, "modified": first}
        observed = stix2.ObservedData(id=_id("observed-data", kind, value), first_observed=first, last_observed=last,
                                      number_observed=max(count, 1), object_refs=[o.id for o in observables],
                                      **common)  # fmt: skip
        sources = ", ".join(dict.fromkeys(s for record in records for s in record["sources"]))
        indicator = stix2.Indicator(id=_id("indicator", kind, value), name=f"{kind} {value}", pattern=pattern,
                                    pattern_type="stix", valid_from=first, indicator_types=["unknown"],
                                    description=f"Found in a container checkpoint by {TOOL} ({sources}).",
                                    **common)  # fmt: skip
        relationship = stix2.Relationship(id=_id("relationship", kind, value), relationship_type="based-on",
                                          source_ref=indicator.id, target_ref=observed.id, **common)  # fmt: skip
        note = stix2.Note(id=_id("note", kind, value), abstract=f"Where {kind} {value} was found",
                          content=_note(records), object_refs=[indicator.id, observed.id], **common)  # fmt: skip
        yield from (*observables, observed, indicator, relationship, note)


def write_bundle(answer: Answer, stream: TextIO) -> int:
    """The bundle on ``stream`` (JSON, as every JSON output is written: ``json_text``); the
    number of indicators in it."""
    import stix2

    objects = list(bundle_objects(answer))
    indicators = [o.id for o in objects if o.type == "indicator"]
    bundle = stix2.Bundle(objects=objects, id=_id("bundle", *indicators), allow_custom=False)
    stream.write(json_text(json.loads(bundle.serialize()), indent=2) + "\n")
    return len(indicators)
