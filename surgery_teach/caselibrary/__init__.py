"""The hospital case library, seen from the core: its wire format, its passes, its client.

Recorders publish finished case folders to one library server (``library_server/``);
students list, search and stream them from there. This package holds what both ends share
(:mod:`.wire`: the JSON of a case summary and of a publish; :mod:`.passes`: the signed
library tokens) and the client half (:mod:`.connection`, :mod:`.publish`, :mod:`.media`,
:mod:`.clips`, :mod:`.remote`). It never imports Qt; docs/library.md is the written form of
the API.
"""

from __future__ import annotations
