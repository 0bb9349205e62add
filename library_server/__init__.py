"""The hospital case library server: recorders publish finished cases, students stream them.

An HTTP API over TLS (aiohttp). Cases are files on disk (:mod:`.store`) with an index in
SQLite, or PostgreSQL for several servers sharing one store (:mod:`.index`). Permissions
come from signed library tokens (:mod:`surgery_teach.caselibrary.passes`). It reads case
folders with the core's casefile and casebook packages and never imports the desktop
client. ``python -m library_server --help``; docs/library.md is the API.
"""

from __future__ import annotations
