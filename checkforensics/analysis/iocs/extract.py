"""Indicators in a piece of text: IP addresses (with a port where one is written), URLs,
domains, e-mail addresses, and the ``user@host`` comment of an SSH public key.

Every candidate is checked, not only matched: an IPv4 address has four numbers of 0-255 without
leading zeros, an IPv6 address is what ``ipaddress`` accepts, a domain ends in a top-level
domain IANA delegates (``tlds.py``). Text is full of dotted names that are no domain
(``file.py``, ``libc.so``, ``self.app``, ``cron.d``), so a domain written bare, outside a URL,
an e-mail address or a key's comment, is kept only when

- none of its labels holds an underscore and it is not part of a path (no ``/`` or ``\\``
  right before it) or a call (no ``(`` right after it), and
- its top-level domain is not one that is also a common file extension or code word
  (``FILE_LIKE``: ``.py``, ``.sh``, ``.so``, ``.md``, ``.zip``, ``.app``, ``.run``, ...),
  unless it has three labels or more (``cdn.evil.sh`` is kept, ``setup.sh`` is not).

A host named inside a URL, an e-mail address or a key's comment is kept whatever its top-level
domain, as long as IANA delegates it; a key comment's host without a dot is a ``hostname``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from checkforensics.analysis.iocs.tlds import TLDS

# Indicator types, as the records name them.
IPV4, IPV6, DOMAIN, HOSTNAME, URL, EMAIL, SHA256, PATH = (
    "ipv4", "ipv6", "domain", "hostname", "url", "email", "sha256", "path",
)  # fmt: skip
TYPES = (IPV4, IPV6, DOMAIN, HOSTNAME, URL, EMAIL, SHA256, PATH)

# Top-level domains that are also file extensions or words of code: a bare two-label name
# ending in one is far likelier a file or an attribute than a host.
_FILE_LIKE = (
    "py sh so md rs pl pm zip mov cc cs ps ai io ts js go in is it to me my no do at as by be "
    "am id st sc ms mp tv fm co app run new now top info name page link data json file "
    "exe bin log lib cfg ini bat pdf doc txt xml csv png jpg gif gz bz tar"
)
FILE_LIKE = frozenset(_FILE_LIKE.split())
DOCUMENTATION = tuple(
    ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)  # RFC 5737, RFC 3849: the addresses of reports and examples, which are real indicators here
SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
PRIVATE = tuple(
    ipaddress.ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)  # RFC 1918 and IPv6 unique local addresses
LOCAL_SCOPES = frozenset({"loopback", "link-local", "unspecified"})  # left out unless asked for

_IPV4 = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"
IPV4_RE = re.compile(rf"(?<![\w.])({_IPV4})(?::(\d{{1,5}}))?(?![\w]|\.\d)")
IPV6_RE = re.compile(r"(?<![\w:.])\[?((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|" + _IPV4 + r"))(?:%[\w.]+)?"
                     r"(\]:\d{1,5})?(?![\w:])")  # fmt: skip
URL_RE = re.compile(
    r"\b(?:https?|ftps?|sftp|tftp|wss?|ldaps?|smb|rtsp|telnet|ssh|scp|gopher|git|tcp|udp)://"
    r"[^\s'\"<>`\\|{}^]+",
    re.IGNORECASE,
)
EMAIL_RE = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
)
NAME_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?")
SSH_KEY_RE = re.compile(
    r"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r"\s+AAAA[0-9A-Za-z+/]+={0,2}\s+(\S+)"
)
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)$")
_URL_TAIL = ".,;:!?)]}'\""  # punctuation that ends a sentence, not a URL
MAX_TEXT = 1 << 20  # characters of one text looked at; longer texts are cut by their sources


@dataclass(frozen=True)
class Found:
    """One indicator in a text: its type, its value (normalised: lower-case host names,
    compressed IPv6), a port when one was written with it, and the line it is on (from 1)."""

    type: str
    value: str
    line: int
    port: int | None = None


def ip_scope(address: str) -> str:
    """``loopback``, ``link-local``, ``unspecified``, ``documentation``, ``private``,
    ``shared``, ``multicast``, ``reserved`` or ``public``. Documentation ranges are told before
    private ones: Python counts 192.0.2.0/24 among its private networks."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if any(ip in net for net in DOCUMENTATION if net.version == ip.version):
        return "documentation"
    if any(ip in net for net in PRIVATE if net.version == ip.version):
        return "private"
    if ip.version == 4 and ip in SHARED:
        return "shared"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved or ip.is_private:
        return "reserved"
    return "public"


def domain_name(name: str) -> str | None:
    """``name`` lower-cased when it is a domain under a delegated top-level domain (labels of
    letters, digits and hyphens, at least two); else None."""
    name = name.rstrip(".").lower()
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or labels[-1] not in TLDS:
        return None
    return name if all(_LABEL.match(label) for label in labels) else None


def _bare_domain(text: str, start: int, end: int) -> str | None:
    """The name at ``text[start:end]`` when it passes the rules for a domain written bare."""
    name = text[start:end]
    if "_" in name or (start and text[start - 1] in "/\\$@") or text[end : end + 1] == "(":
        return None
    found = domain_name(name)
    if found is None:
        return None
    labels = found.split(".")
    if labels[-1] in FILE_LIKE and len(labels) < 3:
        return None
    return found


def host_indicator(host: str) -> tuple[str, str] | None:
    """(type, value) of a host named in a URL, an e-mail address or a key's comment: an
    address, a domain, or (a single label) a host name; None when it is none of those."""
    host = host.strip("[]").rstrip(".")
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
        return (IPV4 if ip.version == 4 else IPV6), ip.compressed
    except ValueError:
        pass
    found = domain_name(host)
    if found is not None:
        return DOMAIN, found
    if "." not in host and _LABEL.match(host.lower()) and not host.isdigit():
        return HOSTNAME, host.lower()
    return None


def split_url(raw: str) -> tuple[str, str | None, int | None]:
    """A URL cut of sentence punctuation, with its host and port (None when it has none)."""
    url = raw.rstrip(_URL_TAIL)
    rest = url.split("://", 1)[1]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    port = None
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    if port_text.isdigit() and 0 < int(port_text) < 65536:
        port = int(port_text)
    return url, host or None, port


def indicators_in(text: str) -> Iterator[Found]:
    """Every indicator in ``text`` (at most MAX_TEXT characters of it), line by line; a URL
    also gives its host, an e-mail address its domain, a key comment its user@host and host."""
    for number, line in enumerate(text[:MAX_TEXT].splitlines(), 1):
        yield from _in_line(line, number)


def _in_line(line: str, number: int) -> Iterator[Found]:
    taken: list[tuple[int, int]] = []  # spans already read as something longer (a URL, an address)
    for match in URL_RE.finditer(line):
        url, host, port = split_url(match.group())
        taken.append((match.start(), match.start() + len(url)))
        yield Found(URL, url, number, port)
        hosted = host_indicator(host) if host else None
        if hosted is not None:
            yield Found(*hosted, number, port if hosted[0] in (IPV4, IPV6) else None)
    for match in SSH_KEY_RE.finditer(line):
        comment = match.group(1).rstrip(_URL_TAIL)
        taken.append(match.span(1))
        user, at, host = comment.rpartition("@")
        hosted = host_indicator(host) if at and user else None
        if hosted is not None:
            if hosted[0] == DOMAIN:
                yield Found(EMAIL, f"{user}@{hosted[1]}", number)
            yield Found(*hosted, number)

    def free(start: int, end: int) -> bool:
        return not any(a <= start < b or a < end <= b for a, b in taken)

    for match in EMAIL_RE.finditer(line):
        domain = domain_name(match.group(2))
        if domain is not None and free(*match.span()):
            taken.append(match.span())
            yield Found(EMAIL, f"{match.group(1)}@{domain}", number)
            yield Found(DOMAIN, domain, number)
    for match in IPV4_RE.finditer(line):
        if free(*match.span()):
            port = int(match.group(2)) if match.group(2) and 0 < int(match.group(2)) < 65536 else None
            taken.append(match.span())
            yield Found(IPV4, match.group(1), number, port)
    if ":" in line:
        for match in IPV6_RE.finditer(line):
            if not free(*match.span()):
                continue
            try:
                ip = ipaddress.IPv6Address(match.group(1))
            except ValueError:
                continue
            port_text = match.group(2)[2:] if match.group(2) else ""
            port = int(port_text) if port_text and 0 < int(port_text) < 65536 else None
            taken.append(match.span())
            yield Found(IPV6, ip.compressed, number, port)
    if "." in line:
        for match in NAME_RE.finditer(line):
            start, end = match.span()
            if "." not in match.group() or not free(start, end):
                continue
            domain = _bare_domain(line, start, end)
            if domain is not None:
                yield Found(DOMAIN, domain, number)
