from __future__ import annotations

import os

# Qt tests run offscreen unless a test starts its own Xvfb display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
