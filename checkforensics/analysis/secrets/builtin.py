"""The built-in credential rules, ``BUILTIN_RULES``, most specific first: where findings of two
rules overlap, the first wins.  Declarative data: the regex pieces they share and one entry per
rule; docs/secrets.md lists every rule.

References: token formats as their issuers publish them (GitHub's "new authentication token
formats" post, GitLab's token overview, Slack's token types, Stripe's API keys, AWS IAM
identifiers, Google's service-account key files, Azure storage connection strings, RFC 7519
JWT, RFC 7468 PEM, RFC 4880 armor, RFC 3986 URI userinfo).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from checkforensics.analysis.secrets.names import NAME_KEYWORDS, is_credential_name
from checkforensics.analysis.secrets.rule import MatchValidator, Rule, Severity, Validator
from checkforensics.analysis.secrets.validators import (
    is_credential_pair,
    is_jwt,
    is_key_block,
    is_kubernetes_token,
    is_openssh_key,
    random_enough,
    real_value,
)

_ALNUM = rb"[A-Za-z0-9]"
_B64URL = rb"[A-Za-z0-9_-]"
_NOT_ALNUM_BEFORE = rb"(?<![A-Za-z0-9])"
_NOT_ALNUM_AFTER = rb"(?![A-Za-z0-9])"
_NOT_TOKEN_BEFORE = rb"(?<![A-Za-z0-9_-])"
_NOT_TOKEN_AFTER = rb"(?![A-Za-z0-9_-])"
# A line of a PEM body: base64, header lines ("Proc-Type: 4,ENCRYPTED"), newlines raw or escaped
# as in JSON; a dash only when it does not start the next "-----" line.
_PEM_BODY = rb"(?:[A-Za-z0-9+/=\s:,\\]|-(?!----))"
_PGP_BODY = rb"(?:[\t-\r\x20-,.-~]|-(?!----))"
_JWT = rb"eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,16384}\.[A-Za-z0-9_-]{0,2048}"
_URL_USER = rb"[A-Za-z0-9._~%!$&'()*+,;=-]"
_URL_PASSWORD = rb"[A-Za-z0-9._~%!$&'()*+,;=:-]"
# Where an unquoted value ends: NUL (environ), a line end, a quote, blank, or "; " in a shell line.
_VALUE_END = rb"(?=[\x00\t\n\r \"']|;[\s\x00]|\Z)"
# Right after an Authorization (or Proxy-Authorization) header's name: its colon, as sent, or the
# NUL nginx writes over the colon when it parses the header in place in its request buffer
# ("Authorization\0 Basic ..."). A lookbehind, so that a match starts at the value's text.
_AFTER_AUTHORIZATION = rb"(?i:(?<=authorization:)|(?<=authorization\x00))"
_BASE64 = rb"[A-Za-z0-9+/]"
# Where an encoded credential pair (base64 of user:password) is kept, each way starting with a
# literal byte (re skips to the bytes that can start a match only when every branch starts with
# one: no group, no case-insensitive letter; else it tries the regex at every byte, several
# times slower on text): after "Basic" (or "basic", "BASIC") in an Authorization header (as
# sent, or as nginx keeps it parsed, NUL over the colon; a lookbehind, so that the match starts
# at "Basic"), as Docker's config.json "auth", as .npmrc's "_auth" (blanks allowed around its
# "="), or as the value of any NAME= (an environment, a shell variable; a name character right
# before "=" and the value, quoted or not, right after it).
_AFTER_AUTHORIZATION_BASIC = b"|".join(
    rb"(?i:(?<=authorization" + separator + blank + rb"basic))"
    for separator in (b":", b"\x00")
    for blank in (b"", b" ", b"\t", b"  ")
)
_CREDENTIAL_PAIR_BEFORE = (
    rb"(?:"
    + b"".join(
        scheme + rb"(?:" + _AFTER_AUTHORIZATION_BASIC + rb")[\t ]{1,4}|" for scheme in (b"Basic", b"basic", b"BASIC")
    )
    + rb'"auth"\s{0,8}:\s{0,8}"'
    rb"|_auth[\t ]{0,4}=[\t ]{0,4}[\"']?"
    rb"|=(?<=[A-Za-z0-9_]=)[\"']?(?=[A-Za-z0-9+/]))"
)
# The keywords of its NAME= form: "=" and the first byte of the value (or its quote), which
# leaves out most of text's "=" (" = ", "==").
_CREDENTIAL_PAIR_KEYWORDS = [b"basic", b'"auth"', b"_auth"] + [
    b"=" + bytes([c]) for c in b"abcdefghijklmnopqrstuvwxyz0123456789+/\"'"
]
# An environment-style NAME that holds one of the words a credential's name has (names.py says
# which names are credential-like; the regex only finds the candidates). Upper case, as
# environments are written: lower-case config text is not an environment.
_ENV_NAME = rb"(?<![A-Za-z0-9_])([A-Z0-9_]{0,64}(?:" + b"|".join(NAME_KEYWORDS) + rb")[A-Z0-9_]{0,64})"


def _rule(
    rule_id: str,
    severity: Severity,
    description: str,
    pattern: bytes,
    keywords: Iterable[bytes],
    *,
    group: int = 0,
    validate: Validator | None = None,
    ignore_case: bool = False,
    validate_match: MatchValidator | None = None,
) -> Rule:
    return Rule(
        rule_id,
        description,
        severity,
        re.compile(pattern),
        group,
        None,
        validate,
        tuple(keywords),
        ignore_case,
        validate_match,
    )


def _credential_name(match: re.Match[bytes]) -> bool:
    """The NAME of an env-secret match (group 1) is a credential's, by names.is_credential_name."""
    return is_credential_name(match[1].decode("ascii"))


def _token_rule(
    rule_id: str, severity: Severity, description: str, prefix: bytes, body: bytes, *, after_anything: bool = True
) -> Rule:
    """A token that is a fixed prefix and a random body that no token character follows.

    A distinctive prefix (``ghp_``, ``sk_live_``) may follow any byte: a database keeps a text
    column after its length byte, often a letter (``Sghp_...``, a 40-byte varlena in PostgreSQL).
    A short one (``SK``, ``AC``) must stand alone, not end a longer word."""
    before = b"" if after_anything else _NOT_ALNUM_BEFORE
    pattern = before + b"(" + re.escape(prefix) + body + b")" + _NOT_ALNUM_AFTER
    return _rule(rule_id, severity, description, pattern, [prefix], group=1, validate=random_enough(3.0))


CRITICAL, HIGH, MEDIUM, LOW = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW

BUILTIN_RULES: tuple[Rule, ...] = (
    _rule(
        "gcp-service-account-key",
        CRITICAL,
        'Google Cloud service-account key file: "type": "service_account" with its "private_key"',
        rb'"type"\s{0,16}:\s{0,16}"service_account"[\t-\r\x20-z|~]{0,2048}?"private_key"\s{0,16}:\s{0,16}'
        rb'"(-----BEGIN PRIVATE KEY-----' + _PEM_BODY + rb"{64,12000}?-----END PRIVATE KEY-----(?:\\n)?)\"",
        [b"service_account"],
        group=1,
        validate=is_key_block,
    ),
    _rule(
        "private-key-pem",
        CRITICAL,
        "PEM private key (RSA, EC, DSA or PKCS#8), the whole block from BEGIN to END",
        rb"-----BEGIN ((?:RSA |EC |DSA )?PRIVATE KEY)-----" + _PEM_BODY + rb"{64,12000}?-----END \1-----",
        [b"PRIVATE KEY-----"],
        validate=is_key_block,
    ),
    _rule(
        "private-key-pem-encrypted",
        HIGH,
        "PEM PKCS#8 encrypted private key (needs its passphrase), the whole block",
        rb"-----BEGIN ENCRYPTED PRIVATE KEY-----" + _PEM_BODY + rb"{64,12000}?-----END ENCRYPTED PRIVATE KEY-----",
        [b"ENCRYPTED PRIVATE KEY-----"],
        validate=is_key_block,
    ),
    _rule(
        "openssh-private-key",
        CRITICAL,
        'OpenSSH private key ("openssh-key-v1"), the whole block',
        rb"-----BEGIN OPENSSH PRIVATE KEY-----" + _PEM_BODY + rb"{64,16000}?-----END OPENSSH PRIVATE KEY-----",
        [b"OPENSSH PRIVATE KEY-----"],
        validate=is_openssh_key,
    ),
    _rule(
        "pgp-private-key",
        CRITICAL,
        "PGP/GPG private key block (ASCII armor), the whole block",
        rb"-----BEGIN PGP PRIVATE KEY BLOCK-----" + _PGP_BODY + rb"{64,65536}?-----END PGP PRIVATE KEY BLOCK-----",
        [b"PGP PRIVATE KEY BLOCK-----"],
        validate=is_key_block,
    ),
    _rule(
        "kubernetes-service-account-token",
        CRITICAL,
        "Kubernetes service-account token: a JWT issued by kubernetes/serviceaccount or with kubernetes.io claims",
        rb"(?<![A-Za-z0-9_.-])(" + _JWT + b")" + _NOT_TOKEN_AFTER,
        [b"eyJ"],
        group=1,
        validate=is_kubernetes_token,
    ),
    _rule(
        "aws-access-key-id",
        HIGH,
        "AWS access key id (AKIA long-term, ASIA temporary, ABIA, ACCA, A3T): half of a key pair",
        rb"((?:AKIA|" + _NOT_ALNUM_BEFORE + rb"(?:ASIA|ABIA|ACCA|A3T[A-Z0-9]))[A-Z2-7]{16})" + _NOT_ALNUM_AFTER,
        [b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"A3T"],
        group=1,
        validate=random_enough(3.0),
    ),
    _rule(
        "aws-secret-access-key",
        CRITICAL,
        "AWS secret access key: 40 base64 characters after aws_secret_access_key / SecretAccessKey",
        rb"(?i:(?:aws_?)?secret_?access_?key)[\"']?\s{0,4}[:=]\s{0,4}[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        [b"secret"],
        group=1,
        validate=random_enough(3.5),
        ignore_case=True,
    ),
    _token_rule("gcp-api-key", HIGH, "Google API key (AIza...)", b"AIza", _B64URL + rb"{35}"),
    _rule(
        "azure-storage-account-key",
        CRITICAL,
        "Azure storage account key: AccountKey= in a connection string, 88 base64 characters",
        rb"(?i:AccountKey)\s{0,4}=\s{0,4}([A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])",
        [b"AccountKey"],
        group=1,
        validate=random_enough(4.0),
        ignore_case=True,
    ),
    _rule(
        "azure-shared-access-key",
        HIGH,
        "Azure Service Bus / Event Hubs / IoT Hub SharedAccessKey= in a connection string",
        rb"(?i:SharedAccessKey)\s{0,4}=\s{0,4}([A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])",
        [b"SharedAccessKey"],
        group=1,
        validate=random_enough(3.5),
        ignore_case=True,
    ),
    _token_rule(
        "github-fine-grained-pat",
        CRITICAL,
        "GitHub fine-grained personal access token (github_pat_)",
        b"github_pat_",
        _ALNUM + rb"{22,40}_" + _ALNUM + rb"{50,120}",
    ),
    _token_rule("github-pat", CRITICAL, "GitHub classic personal access token (ghp_)", b"ghp_", _ALNUM + rb"{36,251}"),
    _token_rule("github-oauth-token", CRITICAL, "GitHub OAuth access token (gho_)", b"gho_", _ALNUM + rb"{36,251}"),
    _token_rule("github-user-token", HIGH, "GitHub App user-to-server token (ghu_)", b"ghu_", _ALNUM + rb"{36,251}"),
    _token_rule(
        "github-app-token",
        HIGH,
        "GitHub App installation (server-to-server) token (ghs_)",
        b"ghs_",
        _ALNUM + rb"{36,251}",
    ),
    _token_rule("github-refresh-token", HIGH, "GitHub refresh token (ghr_)", b"ghr_", _ALNUM + rb"{36,251}"),
    _rule(
        "gitlab-pat",
        CRITICAL,
        "GitLab personal, project or group access token (glpat-)",
        rb"(glpat-" + _B64URL + rb"{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,12})?)" + _NOT_TOKEN_AFTER,
        [b"glpat-"],
        group=1,
        validate=random_enough(3.0),
    ),
    _rule(
        "gitlab-token",
        HIGH,
        "Other GitLab tokens: deploy (gldt-), runner (glrt-), trigger (glptt-), feed, mail, agent, CI job, OAuth",
        rb"((?:gldt|glrt|glrtr|glptt|glft|glimt|glagent|glcbt|gloas|glsoat)-"
        + _B64URL
        + rb"{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,12})?)"
        + _NOT_TOKEN_AFTER,
        [b"gldt-", b"glrt-", b"glrtr-", b"glptt-", b"glft-", b"glimt-", b"glagent-", b"glcbt-", b"gloas-", b"glsoat-"],
        group=1,
        validate=random_enough(3.0),
    ),
    _rule(
        "slack-bot-token",
        CRITICAL,
        "Slack bot token (xoxb-team-bot-secret)",
        rb"(xoxb-[0-9]{8,14}-[0-9]{8,14}-[A-Za-z0-9]{20,40})(?![A-Za-z0-9-])",
        [b"xoxb-"],
        group=1,
        validate=random_enough(3.0),
    ),
    _rule(
        "slack-user-token",
        CRITICAL,
        "Slack user token (xoxp-team-user-id-secret)",
        rb"(xoxp-[0-9]{8,14}-[0-9]{8,14}-[0-9]{8,14}-[A-Za-z0-9]{24,64})(?![A-Za-z0-9-])",
        [b"xoxp-"],
        group=1,
        validate=random_enough(3.0),
    ),
    _rule(
        "slack-token",
        HIGH,
        "Other Slack tokens: workspace (xoxa-), refresh (xoxr-), session (xoxs-), config (xoxe-), app-level (xapp-)",
        rb"((?:xox[abeoprs]|xapp)-(?:[0-9A-Za-z]{1,64}-){1,5}[0-9A-Za-z]{8,128})(?![A-Za-z0-9-])",
        [b"xoxa-", b"xoxb-", b"xoxe-", b"xoxo-", b"xoxp-", b"xoxr-", b"xoxs-", b"xapp-"],
        group=1,
        validate=random_enough(3.0),
    ),
    _rule(
        "slack-webhook",
        HIGH,
        "Slack incoming webhook or workflow URL (hooks.slack.com/services/T.../B.../...)",
        rb"(https?://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,12}/[A-Za-z0-9/]{20,120})"
        rb"(?![A-Za-z0-9/])",
        [b"hooks.slack.com/"],
        group=1,
        validate=random_enough(3.0),
    ),
    _token_rule("stripe-secret-key", CRITICAL, "Stripe live secret key (sk_live_)", b"sk_live_", _ALNUM + rb"{24,247}"),
    _token_rule(
        "stripe-restricted-key", HIGH, "Stripe live restricted key (rk_live_)", b"rk_live_", _ALNUM + rb"{24,247}"
    ),
    _rule(
        "stripe-test-key",
        LOW,
        "Stripe test-mode secret or restricted key (sk_test_, rk_test_): no real money, still a credential",
        rb"([sr]k_test_[A-Za-z0-9]{24,247})" + _NOT_ALNUM_AFTER,
        [b"k_test_"],
        group=1,
        validate=random_enough(3.0),
    ),
    _token_rule(
        "twilio-api-key", HIGH, "Twilio API key SID (SK + 32 hex)", b"SK", rb"[0-9a-f]{32}", after_anything=False
    ),
    _token_rule(
        "twilio-account-sid",
        LOW,
        "Twilio account SID (AC + 32 hex): names an account",
        b"AC",
        rb"[0-9a-f]{32}",
        after_anything=False,
    ),
    _rule(
        "sendgrid-api-key",
        CRITICAL,
        "SendGrid API key (SG.<22>.<43>)",
        rb"(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})" + _NOT_TOKEN_AFTER,
        [b"SG."],
        group=1,
        validate=random_enough(3.5),
    ),
    _token_rule("npm-token", HIGH, "npm access token (npm_)", b"npm_", _ALNUM + rb"{36}"),
    _rule(
        "pypi-token",
        HIGH,
        "PyPI or TestPyPI API token (pypi-AgEIcHlwaS5vcmc...: a macaroon for pypi.org)",
        rb"(pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,1000})" + _NOT_TOKEN_AFTER,
        [b"pypi-Ag"],
        group=1,
    ),
    _rule(
        "anthropic-api-key",
        CRITICAL,
        "Anthropic API key (sk-ant-api03-...)",
        rb"(sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{40,200})" + _NOT_TOKEN_AFTER,
        [b"sk-ant-"],
        group=1,
        validate=random_enough(3.5),
    ),
    _rule(
        "openai-api-key",
        CRITICAL,
        "OpenAI-style API key (sk-proj-, sk-svcacct-, sk-admin-, legacy sk-<48>)",
        # "sk-" alone is no distinctive prefix ("desk-..."): the legacy form must stand alone
        rb"((?:sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}|"
        + _NOT_TOKEN_BEFORE
        + rb"sk-(?:[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48})))"
        + _NOT_TOKEN_AFTER,
        [b"sk-"],
        group=1,
        validate=random_enough(3.5),
    ),
    _rule(
        "jwt",
        MEDIUM,
        'JSON Web Token: three base64url parts, the header a JSON object with "alg"',
        rb"(?<![A-Za-z0-9_.-])(" + _JWT + b")" + _NOT_TOKEN_AFTER,
        [b"eyJ"],
        group=1,
        validate=is_jwt,
    ),
    _rule(
        "database-url-password",
        HIGH,
        "Password in a database or broker URL: postgres, mysql, mariadb, mssql, mongodb(+srv), redis, amqp, ...",
        rb"(?<![A-Za-z0-9+.-])(?i:(?:postgres(?:ql)?|mysql|mariadb|mssql|sqlserver|oracle|mongodb(?:\+srv)?|rediss?"
        rb"|amqps?|clickhouse|couchdb|cockroachdb|neo4j(?:\+s)?)(?:\+[a-z0-9]{1,16})?)://"
        + _URL_USER
        + rb"{0,128}:("
        + _URL_PASSWORD
        + rb"{1,128})@(?=[A-Za-z0-9\[])",
        [b"://"],
        group=1,
        validate=real_value,
    ),
    _rule(
        "encoded-credential-pair",
        HIGH,
        "base64 of user:password: HTTP Basic, Docker config.json auth, .npmrc _auth, NAME=value",
        _CREDENTIAL_PAIR_BEFORE + rb"(" + _BASE64 + rb"{8,4096}={0,2})(?![A-Za-z0-9+/=_.-])",
        _CREDENTIAL_PAIR_KEYWORDS,
        group=1,
        validate=is_credential_pair,
        ignore_case=True,
    ),
    _rule(
        "http-bearer-token",
        MEDIUM,
        "HTTP Authorization: Bearer header with an opaque token, also as nginx keeps it parsed",
        _AFTER_AUTHORIZATION
        + rb"[\t ]{0,4}(?i:bearer)[\t ]{1,4}([A-Za-z0-9._~+/-]{16,4096}={0,2})(?![A-Za-z0-9._~+/=-])",
        [b"bearer"],
        group=1,
        validate=random_enough(3.0),
        ignore_case=True,
    ),
    _rule(
        "url-basic-auth",
        HIGH,
        "Password in an http(s), ftp, ws, smtp, imap or ldap URL (scheme://user:password@host)",
        rb"(?<![A-Za-z0-9+.-])(?i:https?|ftps?|wss?|smtps?|imaps?|ldaps?)://"
        + _URL_USER
        + rb"{1,128}:("
        + _URL_PASSWORD
        + rb"{1,128})@(?=[A-Za-z0-9\[])",
        [b"://"],
        group=1,
        validate=real_value,
    ),
    _rule(
        "password-in-json",
        MEDIUM,
        'A "password", "secret", "token" or "api_key" field in JSON with a real-looking value',
        rb'"(?i:password|passwd|passphrase|secret|client_secret|api_?key|access_?token|refresh_?token|auth_?token'
        rb'|token)"\s{0,8}:\s{0,8}"([\x20!#-\[\]-~]{6,256})"',
        [b'"pass', b'"secret', b'"client_secret', b'"api', b'"access', b'"refresh', b'"auth', b'"token'],
        group=1,
        validate=real_value,
        ignore_case=True,
    ),
    _rule(
        "env-secret",
        HIGH,
        "Environment-style assignment NAME=value where NAME is a credential's: PGPASSWORD, MYSQL_PWD, DB_PASS, ...",
        _ENV_NAME + rb"=[\"']?([!#-&(-~]{6,256}?)" + _VALUE_END,
        NAME_KEYWORDS,
        group=2,
        validate=real_value,
        validate_match=_credential_name,
    ),
    _rule(
        "generic-key-assignment",
        LOW,
        "NAME_KEY=value with a long high-entropy value (an unknown kind of key)",
        rb"(?<![A-Za-z0-9_])[A-Z0-9_]{0,64}_KEY(?<!GPG_KEY)(?<!PUBLIC_KEY)(?<!PUB_KEY)=[\"']?([A-Za-z0-9+/=_.-]{16,256}?)"
        + _VALUE_END,
        [b"_KEY="],
        group=1,
        validate=random_enough(3.5),
    ),
)
