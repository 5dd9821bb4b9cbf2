"""The one redaction policy: which values are secret, and how a secret value is shown.

Everything that quotes evidence which may hold a credential asks this module: the HTML report
(all of it), triage's evidence, memgrep --secrets and diff A B --secrets.

A value is secret when

- it is assigned to a credential-like name (``is_credential_name``, from analysis.secrets.names:
  the same notion the ``env-secret`` rule has of a name): an environment entry
  ``NAME=value``, a command-line word ``--name=value`` or ``name=value``, the word after a flag
  ``--name``, or an assignment inside a longer text (``sh -c "PGPASSWORD=… psql"``, a URL's
  ``?token=…``); the whole value is hidden;
- or a built-in credential rule (analysis/secrets, docs/secrets.md) finds it: ``STRIPE=sk_live_…``,
  a JWT, a PEM key, the password in ``postgres://user:password@host``; the part the rule calls
  the value is hidden, the rest stays readable;
- or it is given to a program as its credential on a command line, wherever that line is quoted
  (a history entry, a log line, a cron file, a timeline message): ``mysql -pPASSWORD``, ``curl -u
  user:PASSWORD``, ``sshpass -p PASSWORD``, ``--password PASSWORD``, ``scheme://user:PASSWORD@``
  (``CREDENTIAL_ARGUMENTS``).

The decisions are the ``*_spans`` functions: for each text, the character ranges that hold
secret values. How a secret value looks is ``mask``: at most four leading characters (never more
than a quarter of the value) and its length, ``ghp_…(40 chars)``. A ``Redaction`` applies both,
or with ``reveal=True`` (``--no-redact``, ``--include-secrets``) shows everything as it is.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from checkforensics.analysis import secrets
from checkforensics.analysis.secrets.names import is_credential_name

Span = tuple[int, int]  # [start, end) in characters of one text

SHOWN = 4  # leading characters a masked value keeps at most

# NAME=value inside a text: the value is quoted, or runs to the next blank.
_ASSIGNMENT = re.compile(r"""(?<![\w.-])(-{0,2}[A-Za-z_][\w.-]*)=(?:"([^"]*)"|'([^']*)'|(\S+))""")
# A whole command-line word --name=value or name=value: everything after "=" is the value.
_WORD_ASSIGNMENT = re.compile(r"(-{0,2}[A-Za-z_][\w.-]*)=(.*)", re.DOTALL)
# A flag --name (or Go's -name) whose value is the next word.
_FLAG = re.compile(r"--?([A-Za-z][\w.-]*)")


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _rule_spans(texts: Sequence[str]) -> list[list[Span]]:
    """What the built-in credential rules call values, in each text. The texts are scanned as one
    buffer, NUL between them (no built-in rule matches across a NUL), so a thousand paths cost
    one scan and not a thousand."""
    if not texts:  # a scan costs its rules' set-up even on nothing: asked for every process's environment
        return []
    encoded = [text.encode("utf-8", "surrogatepass") for text in texts]
    starts, position = [], 0
    for data in encoded:
        starts.append(position)
        position += len(data) + 1
    found: list[list[Span]] = [[] for _ in texts]
    for finding in secrets.scan(b"\0".join(encoded)):
        index = bisect.bisect_right(starts, finding.start) - 1
        data, base = encoded[index], starts[index]
        start, end = finding.start - base, min(finding.end - base, len(data))
        # Rules match ASCII text only, so both ends fall between characters.
        first = len(data[:start].decode("utf-8", "replace"))
        found[index].append((first, first + len(data[start:end].decode("utf-8", "replace"))))
    return found


# A credential given on a command line: the value is the last group.
CREDENTIAL_ARGUMENTS = (
    re.compile(r"(?:^|\s)(?:mysql|mariadb|mysqldump|mysqladmin)\b.*?\s-p([^\s'\"]\S*)"),  # -pPASSWORD
    re.compile(r"(?:^|\s)(?:-u|--user|--http-user)[\s=]+['\"]?[^\s:'\"]+:([^\s'\"]+)"),  # curl -u user:password
    re.compile(r"(?:^|\s)sshpass\s+-p\s*['\"]?([^\s'\"]+)"),
    re.compile(r"--(?:password|passwd|pass|token|secret|api-key)[\s=]+['\"]?([^\s'\"]+)"),
    re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:([^\s/@]+)@"),  # scheme://user:password@host
)


def argument_spans(text: str) -> list[Span]:
    """The credentials ``text`` gives to a program on a command line (``CREDENTIAL_ARGUMENTS``)."""
    return [match.span(match.lastindex or 0) for pattern in CREDENTIAL_ARGUMENTS for match in pattern.finditer(text)]


def _assignment_spans(text: str) -> list[Span]:
    """The values of credential-like NAME=value assignments inside ``text``."""
    spans, position = [], 0
    while (match := _ASSIGNMENT.search(text, position)) is not None:
        group = next(g for g in (2, 3, 4) if match.group(g) is not None)
        if is_credential_name(match[1]):
            spans.append(match.span(group))
            position = match.end()
        else:  # the value may hold assignments of its own: -o username=u,password=p
            position = match.start(group)
    return spans


def secret_spans(texts: Sequence[str]) -> list[list[Span]]:
    """For each free text (a path, a message, one argv word, evidence), the sorted, disjoint
    character ranges holding secret values: values of credential-like assignments in it,
    credentials given on a command line and what the built-in credential rules find."""
    by_rules = _rule_spans(texts)
    return [
        _merge(_assignment_spans(text) + argument_spans(text) + ruled)
        for text, ruled in zip(texts, by_rules, strict=True)
    ]


def environment_spans(entries: Sequence[str]) -> list[list[Span]]:
    """For each environment entry ``NAME=value``: the whole value when the name is
    credential-like, else what ``secret_spans`` finds in the entry."""
    found = secret_spans(entries)
    for index, entry in enumerate(entries):
        name, sep, value = entry.partition("=")
        if sep and value and is_credential_name(name):
            found[index] = [(len(name) + 1, len(entry))]
    return found


def _whole_value(word: str, name: str, value: str) -> bool:
    """Whether all of ``value`` in the argv word ``name=value`` is secret. --name=value is one
    option whatever it holds; a bare NAME=value with blanks in it is more likely a shell line
    (sh -c "PGPASSWORD=x psql"), read as free text."""
    if not value or not is_credential_name(name):
        return False
    return word.startswith("-") or not any(c.isspace() for c in value)


def argv_spans(words: Sequence[str]) -> list[list[Span]]:
    """For each word of a command line: all of it after a credential-like flag (``--token
    VALUE``), all of its value for a credential-like ``--name=value`` or ``name=value``, else
    what ``secret_spans`` finds in it."""
    found = secret_spans(words)
    flagged = False
    for index, word in enumerate(words):
        if flagged and word and not word.startswith("-"):
            found[index] = [(0, len(word))]
        elif (whole := _WORD_ASSIGNMENT.fullmatch(word)) and _whole_value(word, whole[1], whole[2]):
            found[index] = [whole.span(2)]
        flag = _FLAG.fullmatch(word)
        flagged = flag is not None and is_credential_name(flag[1])
    return found


def is_secret(name: str, value: str) -> bool:
    """Whether ``value`` (assigned to ``name``, as in an environment) holds a secret."""
    return bool(value) and bool(environment_spans([f"{name}={value}"])[0])


def _printable(char: str) -> str:
    code = ord(char)
    if 0x20 <= code < 0x7F and char != "\\":
        return char
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def mask(value: bytes | str) -> str:
    """A secret as it is shown: ``ghp_…(40 chars)``, ``hun…(12 chars)``, ``…(3 chars)``. At most
    ``SHOWN`` leading characters, a quarter of the value at most, non-printable ones escaped."""
    keep = min(SHOWN, len(value) // 4)
    head = value[:keep].decode("latin-1") if isinstance(value, bytes) else value[:keep]
    return f"{''.join(map(_printable, head))}…({len(value)} chars)"


@dataclass(frozen=True)
class Redaction:
    """Shows evidence with its secret values masked, or (``reveal``) as it is."""

    reveal: bool = False

    def value(self, value: bytes | str) -> str:
        """A value known to be secret (a credential rule's finding)."""
        if not self.reveal:
            return mask(value)
        return value.decode("utf-8", "backslashreplace") if isinstance(value, bytes) else value

    def show(self, text: str, spans: Sequence[Span]) -> str:
        """``text`` with each span masked."""
        if self.reveal or not spans:
            return text
        parts, position = [], 0
        for start, end in spans:
            parts += [text[position:start], mask(text[start:end])]
            position = end
        return "".join(parts) + text[position:]

    def texts(self, texts: Sequence[str]) -> list[str]:
        if self.reveal:
            return list(texts)
        return [self.show(text, spans) for text, spans in zip(texts, secret_spans(texts), strict=True)]

    def text(self, text: str) -> str:
        """A free text (path, message, evidence) with the secrets in it masked."""
        return self.texts([text])[0]

    def environment(self, entries: Sequence[str]) -> list[str]:
        if self.reveal:
            return list(entries)
        return [self.show(e, spans) for e, spans in zip(entries, environment_spans(entries), strict=True)]

    def argv(self, words: Sequence[str]) -> list[str]:
        if self.reveal:
            return list(words)
        return [self.show(w, spans) for w, spans in zip(words, argv_spans(words), strict=True)]


REDACT = Redaction()
REVEAL = Redaction(reveal=True)
