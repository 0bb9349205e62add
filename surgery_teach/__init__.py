"""surgery_teach: remote surgery teaching and consultation (core, Qt-free)."""

from __future__ import annotations

__version__ = "0.1.0"
