"""Entry script of the packaged desktop app: the same as ``python -m ui``.

PyInstaller freezes this file as ``__main__``; keeping it outside ``ui/`` means the bundle
imports ``ui`` as the package it is, exactly as ``python -m ui`` does. One option is handled
here rather than by the app: ``--bundle-check`` (see ``bundle_check.py``) tests the media
libraries that ``--self-test`` does not reach.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if sys.argv[1:] == ["--bundle-check"]:
        from bundle_check import main as bundle_check

        sys.exit(bundle_check())

    from ui.app import main

    sys.exit(main())
