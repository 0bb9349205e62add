from __future__ import annotations

import sys

from surgery_teach.cli import main

sys.exit(main())
