"""The media server's configuration folder on disk: Janus's files plus ``media-server.json``.

``media-server.json`` tells the signaling server where Janus is and holds the secrets
that command it. Every file here is written owner-only (0600) through a temporary file
and a rename, so that no other user can read a secret, even for a moment, and Janus never
reads a half-written file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signaling_server.media_server.config import (
    JanusSettings,
    MediaServerSecrets,
    render_configs,
)
from surgery_teach.errors import ConfigError

ACCESS_FILE = "media-server.json"
ACCESS_VERSION = 1
LIBRARY_KINDS = ("plugins", "transports", "loggers", "events")


@dataclass(frozen=True)
class MediaServerAccess:
    """What the signaling server needs to command a running media server."""

    api_url: str
    """Where participants (and the signaling server) reach the Janus API."""
    admin_url: str
    secrets: MediaServerSecrets = field(repr=False)

    def to_json(self) -> str:
        return json.dumps({
            "version": ACCESS_VERSION, "api_url": self.api_url, "admin_url": self.admin_url,
            "api_secret": self.secrets.api_secret, "admin_secret": self.secrets.admin_secret,
            "room_admin_key": self.secrets.room_admin_key}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = ACCESS_FILE) -> MediaServerAccess:
        """Parse ``media-server.json``; ConfigError naming the problem and the fix."""
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{where} is not JSON ({exc}): run python -m signaling_server "
                              "media-server again to rewrite it") from exc
        if not isinstance(data, dict) or data.get("version") != ACCESS_VERSION:
            raise ConfigError(f"{where} is not a version-{ACCESS_VERSION} media-server file: "
                              "run python -m signaling_server media-server again")
        keys = ("api_url", "admin_url", "api_secret", "admin_secret", "room_admin_key")
        missing = [key for key in keys if not isinstance(data.get(key), str) or not data[key]]
        if missing:
            raise ConfigError(f"{where} lacks {', '.join(missing)}: run python -m "
                              "signaling_server media-server again")
        return cls(data["api_url"], data["admin_url"], MediaServerSecrets(
            data["api_secret"], data["admin_secret"], data["room_admin_key"]))


def available_libraries(library_folder: str) -> dict[str, list[str]]:
    """The ``.so`` files in each of Janus's library folders (missing folders: none)."""
    found: dict[str, list[str]] = {}
    for kind in LIBRARY_KINDS:
        folder = Path(library_folder, kind)
        found[kind] = sorted(p.name for p in folder.glob("*.so")) if folder.is_dir() else []
    return found


def write_config_dir(folder: Path, settings: JanusSettings, secrets: MediaServerSecrets,
                     ) -> MediaServerAccess:
    """Write Janus's configuration and ``media-server.json`` into ``folder`` (created
    owner-only if missing); return what the signaling server needs."""
    folder = folder.resolve()
    available = available_libraries(settings.library_folder)
    if "libjanus_videoroom.so" not in available["plugins"]:
        raise ConfigError(f"Janus's VideoRoom plugin is not in {settings.library_folder}/"
                          "plugins: install Janus (apt-get install janus; make setup does)")
    texts = render_configs(settings, secrets, config_folder=str(folder), available=available)
    access = MediaServerAccess(settings.api_url, settings.admin_url, secrets)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, text in {**texts, ACCESS_FILE: access.to_json()}.items():
            _write_private(folder / name, text)
    except OSError as exc:
        raise ConfigError(f"cannot write the media-server configuration in {folder}: "
                          f"{exc.strerror or exc}") from exc
    return access


def read_access(folder: Path) -> MediaServerAccess:
    """Read ``media-server.json`` from ``folder``; ConfigError naming the fix."""
    path = folder / ACCESS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}. Start the media server "
                          "with python -m signaling_server media-server --config-dir "
                          f"{folder}") from exc
    return MediaServerAccess.from_json(text, str(path))


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o600)  # O_CREAT's mode does not apply to an existing file
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
