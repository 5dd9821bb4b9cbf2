"""``Severity``: how much a finding matters, shared by the credential rules and the triage rules."""

from __future__ import annotations

from enum import IntEnum


class Severity(IntEnum):
    """Ordered, so ``severity >= Severity.HIGH`` works; ``str()`` is the lower-case name.

    INFO (worth knowing, not a problem in itself) is used by triage; the credential rules go
    from LOW (test-mode keys, identifiers, guesses) to CRITICAL (grants access by itself).
    """

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """The member named ``text``, ignoring case and surrounding blanks; ValueError otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(str(s) for s in sorted(cls, reverse=True))
            raise ValueError(f"severity {text!r} is not one of {names}") from None
