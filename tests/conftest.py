from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from surgery_teach.casefile.keys import KeyRing

# Qt tests run offscreen unless a test starts its own Xvfb display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch a real user's settings.
os.environ["SURGERY_TEACH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="surgery_teach-pytest-")
os.environ["SURGERY_TEACH_DATA_DIR"] = tempfile.mkdtemp(prefix="surgery_teach-pytest-data-")
# ...nor a real user's keyring (tests that need one install an in-memory backend).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
# Cases recorded through the app and the command line are encrypted by default: with no
# keyring, tests record (and read back) with a hospital passphrase, as such a hospital would.
os.environ["SURGERY_TEACH_CASE_PASSPHRASE"] = "pytest hospital passphrase"
# Sound threads stay at normal priority (as root they would take real time from the whole
# machine for the rest of the run); tests/audio/test_priority.py asks for it on purpose.
os.environ.setdefault("SURGERY_TEACH_AUDIO_PRIORITY", "normal")

# Hypothesis is imported here, at collection, on purpose: its pytest plugin imports it
# lazily in the terminal summary otherwise, which crashed pytest on CPython 3.11.7 ("AST
# constructor recursion depth mismatch") after tests that hit Python's recursion limit.
# The "quick" profile (default) is deterministic; SURGERY_TEACH_HYPOTHESIS=thorough
# explores many more random examples (run it after changing a parser).
settings.register_profile(
    "quick", max_examples=100, deadline=None, derandomize=True, database=None
)
settings.register_profile("thorough", max_examples=5000, deadline=None, database=None)
settings.load_profile(os.environ.get("SURGERY_TEACH_HYPOTHESIS", "quick"))


@pytest.fixture
def ring() -> Iterator[KeyRing]:
    """A fresh key ring with no OS keyring behind it, for this test only (tests that must
    not find the hospital passphrase in the environment define their own)."""
    from surgery_teach.casefile.keys import KeyRing, use_key_ring  # (after the settings above)

    ring = KeyRing(use_os_keyring=False)
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)
