from __future__ import annotations

import os
import tempfile

# Qt tests run offscreen unless a test starts its own Xvfb display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never touch a real user's settings.
os.environ["SURGERY_TEACH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="surgery_teach-pytest-")
