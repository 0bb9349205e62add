"""User settings, in one place: a JSON file in the user's config folder.

``SURGERY_TEACH_CONFIG_DIR`` points elsewhere (tests always set it, so they never touch a
real user's settings). A missing or damaged file gives the defaults, never an error.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

logger = logging.getLogger(__name__)

MAX_RECENT_ROOMS = 8


def config_dir() -> Path:
    override = os.environ.get("SURGERY_TEACH_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("surgery_teach"))


def data_dir() -> Path:
    """Where the client keeps data that is not a setting; ``SURGERY_TEACH_DATA_DIR``
    points elsewhere (tests always set it)."""
    override = os.environ.get("SURGERY_TEACH_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir("surgery_teach"))


def default_recordings_dir() -> Path:
    """Where recorded cases go unless the user chose a folder: in their documents."""
    return Path(platformdirs.user_documents_dir()) / "Surgery Teach recordings"


def server_state_dir() -> Path:
    """The built-in signaling server's room journals (``--state-dir``), so that marks and
    chat survive a restart of the client that runs it."""
    return data_dir() / "server-state"


@dataclass
class Settings:
    """What the client remembers between runs. Defaults suit a first start."""

    language: str = "en"
    server: str = ""  # empty: start a local signaling server
    room: str = "demo"
    name: str = ""
    role: str = ""  # empty: not chosen yet; the lobby asks (nobody is a surgeon by default)
    recent_rooms: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # empty: not chosen; the lobby asks
    microphone: str = ""  # empty: the system default
    speaker: str = ""
    push_to_talk_key: str = "Space"  # a key's name, e.g. "F13" for a foot pedal
    echo_cancellation: bool = True
    noise_suppression: bool = True
    fade_seconds: float = 4.0  # how long a live (unpinned) mark stays before it fades
    ca_file: str = ""  # PEM certificate of the hospital's own CA, for its wss:// server
    # STUN/TURN servers as --ice-server writes them, one a line (empty: the server's). A
    # TURN password may be in them: left out of repr, so never in a log.
    ice_servers: list[str] = field(default_factory=list, repr=False)
    recordings_dir: str = ""  # empty: default_recordings_dir(); made on the first recording
    hospital: str = ""  # written into the manifest of the cases this client records
    # Cases are encrypted at rest (key in the OS keyring, or a hospital passphrase); off
    # only for teaching material that shows no patient.
    encrypt_recordings: bool = True
    # The hospital case library (docs/library.md): its address, this user's library token
    # (a secret: left out of repr) and the CA of its certificate if it is the hospital's own.
    # SURGERY_TEACH_LIBRARY_URL / _TOKEN / _CA, when set, are used instead.
    library_url: str = ""
    library_token: str = field(default="", repr=False)
    library_ca_file: str = ""

    def recordings_path(self) -> Path:
        """The folder new case recordings go into."""
        return Path(self.recordings_dir).expanduser() if self.recordings_dir \
            else default_recordings_dir()

    def remember_room(self, room: str) -> None:
        self.recent_rooms = [room, *(r for r in self.recent_rooms if r != room)]
        del self.recent_rooms[MAX_RECENT_ROOMS:]

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        path = path or config_dir() / "settings.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            logger.warning("settings file %s is unreadable (%s); using defaults", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        defaults = cls()
        values = {}
        for key, value in raw.items() if isinstance(raw, dict) else ():
            if key in known and isinstance(value, type(getattr(defaults, key))):
                values[key] = value
        return cls(**values)

    def save(self, path: Path | None = None) -> None:
        """Write atomically, so a crash never leaves half a file."""
        path = path or config_dir() / "settings.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)  # it may hold a TURN password: for this user's eyes only
        tmp.chmod(0o600)  # (a .tmp left by an older version)
        tmp.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
