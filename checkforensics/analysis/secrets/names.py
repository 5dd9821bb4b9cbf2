"""Which names say that their value is a credential: ``is_credential_name``.

The one notion of a credential-like name. The ``env-secret`` rule asks it about the NAME of
every ``NAME=value`` it finds in memory, and analysis.redaction asks it about environment
entries, command-line options and assignments in text, so a name is a credential's name
everywhere or nowhere.
"""

from __future__ import annotations

import re

# Words that make a name credential-like, as a segment of their own or glued to the end of one
# (PGPASSWORD, CLIENTSECRET); API_KEY, ACCESS_KEY, PRIVATE_KEY and SECRET_KEY may be one
# segment or two.
_GLUED = (
    "PASSWORD", "PASSWORDS", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS",
    "CREDENTIAL", "CREDENTIALS", "APIKEY", "ACCESSKEY", "PRIVATEKEY", "SECRETKEY",
)  # fmt: skip
_PAIRS = frozenset({("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY")})
# Words that count only as a segment of their own: BYPASS, OLDPWD, AUTHOR hold no credential.
# PWD also needs another segment (MYSQL_PWD): PWD alone is the working directory.
_WHOLE = frozenset({"PASS", "PWD", "AUTH", "AUTHORIZATION"})
# A name starting like this switches something off (--no-auth), it does not carry a value.
_SWITCH_OFF = frozenset({"NO", "SKIP", "DISABLE", "WITHOUT"})
# Names that end like these hold something about a secret, not the secret: DB_PASSWORD_FILE.
NOT_SECRET_NAME_ENDS = (
    "FILE", "FILENAME", "PATH", "DIR", "LENGTH", "LEN", "MIN", "MAX", "TTL", "EXPIRY", "EXPIRES", "EXPIRE",
    "TIMEOUT", "TYPE", "NAME", "ID", "URL", "URI", "HOST", "PORT", "SERVER", "USER", "USERNAME", "SOCK",
    "SOCKET", "STDIN", "COMMAND", "CMD", "PROMPT", "HINT", "POLICY", "SIZE", "BITS", "COUNT", "ENABLED",
    "ENABLE", "DISABLED", "REQUIRED", "MODE", "METHOD", "FORMAT", "HEADER", "PARAM", "FIELD", "ALGORITHM",
    "VERSION", "LOCATION", "REF", "SOURCE", "ENDPOINT", "REGION", "PROVIDER",
)  # fmt: skip
_ABOUT = frozenset(NOT_SECRET_NAME_ENDS)
# Upper-case bytes every credential-like name holds (its words above, or the end of one): what
# a scanner looks for before it asks is_credential_name about a name.
NAME_KEYWORDS = (b"PASS", b"SECRET", b"TOKEN", b"CREDENTIAL", b"KEY", b"PWD", b"AUTH")

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")


def _segments(name: str) -> list[str]:
    """``--db-password`` -> DB, PASSWORD; ``apiKey`` -> API, KEY; trailing digits dropped."""
    split = _SEPARATORS.split(_CAMEL.sub("_", name).upper())
    return [segment.rstrip("0123456789") or segment for segment in split if segment]


def is_credential_name(name: str) -> bool:
    """True for a name that says its value is a credential.

    PASSWORD, PASSWD, PASSPHRASE, SECRET, TOKEN, CREDENTIAL(S), API_KEY, ACCESS_KEY, PRIVATE_KEY,
    SECRET_KEY as a segment or glued to the end of one (DB_PASSWORD, PGPASSWORD, GITHUB_TOKEN,
    AWS_SECRET_ACCESS_KEY); PASS, AUTH, AUTHORIZATION and PWD only as segments (REDISCLI_AUTH,
    MYSQL_PWD; not BYPASS, AUTHOR, OLDPWD, nor PWD itself). Any case, ``_``, ``-``, ``.`` or
    camelCase between segments. Not when the last segment, after the credential word, says what
    the name holds is something about a secret (DB_PASSWORD_FILE, SSH_AUTH_SOCK, AUTH_URL,
    AWS_ACCESS_KEY_ID), nor for a switch that turns one off (NO_AUTH, --skip-password).
    """
    segments = _segments(name)
    if not segments or segments[0] in _SWITCH_OFF:
        return False
    last_word = -1  # index of the last segment that is (the end of) a credential word
    for index, segment in enumerate(segments):
        if segment.endswith(_GLUED) or (segment in _WHOLE and (segment != "PWD" or len(segments) > 1)):
            last_word = index
        elif index + 1 < len(segments) and (segment, segments[index + 1]) in _PAIRS:
            last_word = index + 1
    if last_word < 0:
        return False
    return last_word == len(segments) - 1 or segments[-1] not in _ABOUT
