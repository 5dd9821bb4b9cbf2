"""checkforensics: forensic analysis of CRIU container checkpoints."""

from __future__ import annotations

__version__ = "0.1.0"
