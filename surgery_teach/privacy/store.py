"""Masks remembered per video device, so a tower's overlay is masked once and for good.

A JSON file next to the user's settings (``privacy-masks.json`` in
:func:`~surgery_teach.settings.config_dir`, which tests point elsewhere) maps a device's
identity (:func:`device_key`) to its masks. Like the settings, a missing or damaged file
gives no masks rather than an error, and writes are atomic.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

from surgery_teach.capture.spec import SourceKind, SourceSpec, parse_source_spec, redact_url
from surgery_teach.errors import ConfigError
from surgery_teach.privacy.masks import Mask
from surgery_teach.settings import config_dir

logger = logging.getLogger("surgery_teach.privacy")

STORE_FILE = "privacy-masks.json"
FORMAT_VERSION = 1


def device_key(spec: SourceSpec | str, *, device_name: str = "") -> str:
    """The identity masks are remembered under for the device ``spec`` opens.

    A camera or capture card is known by its driver's name when given (``device_name``,
    from :func:`~surgery_teach.capture.list_devices`: it stays the same when the card
    moves to another ``/dev/videoN``), else by its index or path. Files by path, network
    cameras by URL without credentials, the synthetic scene as ``synthetic``. The label
    and the requested size are not part of it: the same tower keeps its masks.
    """
    parsed = parse_source_spec(spec) if isinstance(spec, str) else spec
    if parsed.kind is SourceKind.CAMERA:
        return f"camera-named:{device_name.strip()}" if device_name.strip() \
            else f"camera:{parsed.target}"
    if parsed.kind is SourceKind.FILE:
        return f"file:{parsed.target}"
    if parsed.kind is SourceKind.RTSP:
        return redact_url(parsed.target)
    return "synthetic"


class MaskStore:
    """The remembered masks of every device; load once, change, :meth:`save` (or use
    :meth:`remember`, which saves). Thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / STORE_FILE
        self._lock = threading.Lock()
        self._masks: dict[str, tuple[Mask, ...]] = {}

    @classmethod
    def load(cls, path: Path | None = None) -> MaskStore:
        """The store in ``path``; empty when the file is missing, unreadable or damaged
        (a warning is logged; entries that cannot be read are skipped)."""
        store = cls(path)
        try:
            raw = json.loads(store.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return store
        except (OSError, ValueError) as exc:
            logger.warning("remembered masks in %s are unreadable (%s); none used",
                           store.path, exc)
            return store
        devices = raw.get("devices") if isinstance(raw, dict) else None
        if not isinstance(devices, dict):
            logger.warning("remembered masks in %s have no devices; none used", store.path)
            return store
        for key, items in devices.items():
            try:
                if not isinstance(items, list):
                    raise ConfigError("the masks must be a list")
                store._masks[str(key)] = tuple(Mask.from_json(item) for item in items)
            except ConfigError as exc:
                logger.warning("remembered masks of %s skipped: %s", key, exc)
        return store

    def devices(self) -> list[str]:
        with self._lock:
            return sorted(self._masks)

    def masks_for(self, device: str) -> tuple[Mask, ...]:
        """The masks remembered for ``device`` (a :func:`device_key`); ``()`` if none."""
        with self._lock:
            return self._masks.get(device, ())

    def set(self, device: str, masks: Sequence[Mask]) -> None:
        """Remember ``masks`` for ``device`` (none: forget it); call :meth:`save` after."""
        with self._lock:
            if masks:
                self._masks[device] = tuple(masks)
            else:
                self._masks.pop(device, None)

    def remember(self, device: str, masks: Sequence[Mask]) -> None:
        """:meth:`set` and :meth:`save` at once (what the device dialog calls)."""
        self.set(device, masks)
        self.save()

    def save(self) -> None:
        """Write the file atomically; raises ``OSError`` if the folder is not writable."""
        with self._lock:
            body = {"version": FORMAT_VERSION, "devices": {
                key: [mask.to_json() for mask in masks]
                for key, masks in sorted(self._masks.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)
