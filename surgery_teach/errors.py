"""One exception tree for the whole project.

Errors the user must act on carry the data needed to explain the fix. Library errors
(cv2, av, aiortc, websockets) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations


class SurgeryTeachError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(SurgeryTeachError):
    """A command-line option, source spec or setting is malformed."""


class CaptureError(SurgeryTeachError):
    """A video source could not be opened or read."""


class CaptureDeviceError(CaptureError):
    """A capture device (camera, capture card) is missing or cannot be opened.

    ``available`` lists the devices that were found, so the message can name them.
    """

    def __init__(self, device: str, available: list[str], reason: str = "") -> None:
        self.device, self.available, self.reason = device, list(available), reason
        super().__init__(_missing_device(
            "video", device, self.available, reason,
            "Check the cable and that no other program uses the device, or pick another "
            "source (for a test without a camera use --source synthetic).",
        ))


class ProtocolError(SurgeryTeachError):
    """A signaling message is malformed, unknown, too large or not allowed.

    ``code`` is the machine-readable error code sent on the wire (see docs/protocol.md).
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


class SignalingError(SurgeryTeachError):
    """The signaling server is unreachable, refused us, or the link dropped.

    ``code``: the ``error`` code the server refused a ``join`` with (``room-full``,
    ``bad-message``...), so a window can say it in the user's language; "" otherwise."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class NotAdmittedError(SignalingError):
    """The signaling server will not let this participant into the room: the room token is
    missing, expired or for another room, or a mentor removed them. Trying again the same
    way cannot help, so clients stop reconnecting. ``status`` is the HTTP status of a
    refused handshake (401, 403), ``None`` when a ``join`` was refused."""

    def __init__(self, message: str, status: int | None = None, *, code: str = "") -> None:
        self.status = status
        super().__init__(message, code=code)


class MediaError(SurgeryTeachError):
    """Encoding, decoding or the WebRTC media path failed."""


class LoopStoppedError(MediaError):
    """Work was handed to the media loop thread while it was not running (the session
    was not started yet, or was left): start the session first."""


class AudioDeviceError(MediaError):
    """A microphone or speaker is missing or cannot be opened, or PortAudio is not installed.

    ``available`` lists the matching devices that were found, so the message can name them.
    """

    def __init__(self, device: str, available: list[str], reason: str = "") -> None:
        self.device, self.available, self.reason = device, list(available), reason
        super().__init__(_missing_device(
            "audio", device, self.available, reason,
            "Check that the headset or speaker is plugged in and not used by another "
            "program, or pick another device; the session can go on without audio.",
        ))


def _missing_device(kind: str, device: str, available: list[str], reason: str,
                    fix: str) -> str:
    found = ", ".join(available) if available else "none"
    detail = f" ({reason})" if reason else ""
    return f"cannot open {kind} device {device!r}{detail}. Devices found: {found}. {fix}"


class RecordingError(SurgeryTeachError):
    """A case recording could not be started, written or read back.

    ``folder`` is the case folder concerned (``None`` when there is none yet).
    """

    def __init__(self, message: str, folder: str | None = None) -> None:
        self.folder = folder
        super().__init__(message)


class DiskFullError(RecordingError):
    """The disk holding a recording is full (or nearly), so the recording was stopped.

    What was written until then is kept and plays; ``free_bytes`` is what was left.
    """

    def __init__(self, folder: str, free_bytes: int | None = None, *,
                 while_recording: bool = True) -> None:
        self.free_bytes = free_bytes
        left = f" ({free_bytes / 1e6:.0f} MB left)" if free_bytes is not None else ""
        what = (
            f"recording stopped: the disk holding {folder} is full{left}. Everything "
            "recorded until now is saved there and plays."
            if while_recording
            else f"cannot start recording: the disk holding {folder} is nearly full{left}."
        )
        super().__init__(
            f"{what} Free some space or choose a recording folder on another disk, then "
            "start a new recording.",
            folder,
        )


class ExportDiskFullError(DiskFullError):
    """The disk filled (or would fill) while a clip was exported to ``path``; the
    unfinished clip was removed. ``free_bytes`` is what was left."""

    def __init__(self, path: str, free_bytes: int | None = None) -> None:
        self.free_bytes = free_bytes
        self.path = path
        left = f" ({free_bytes / 1e6:.0f} MB left)" if free_bytes is not None else ""
        RecordingError.__init__(
            self,
            f"cannot export {path}: the disk is full{left}. The unfinished clip was removed "
            "and the recording is unchanged. Free some space or export to another disk.",
            None,
        )


class LibraryError(SurgeryTeachError):
    """The hospital case library refused a request, or could not be reached.

    ``status`` is the HTTP status (``None`` when the server was not reached); ``code`` the
    machine-readable reason from the server (``corrupt-file``, ``disk-full``,
    ``not-allowed``...), see docs/library.md.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class MediaServerError(SurgeryTeachError):
    """The media server (Janus) for large rooms failed; the room stays peer to peer."""


class MediaServerUnavailableError(MediaServerError):
    """The media server cannot be reached (not started, wrong address, it stopped) or
    did not answer in time. ``url`` is where it was looked for."""

    def __init__(self, message: str, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class MediaServerRefusedError(MediaServerError):
    """The media server answered with an error: ``code`` is Janus's error code (403: token
    or secret not accepted, 405: token not allowed that plugin, 426: no such room, 428: no
    such publisher yet, 433: token not in the room's allowed list, 458: session gone),
    ``reason`` its explanation."""

    def __init__(self, request: str, code: int, reason: str) -> None:
        self.request, self.code, self.reason = request, code, reason
        super().__init__(f"the media server refused {request!r}: {reason} (Janus error {code})"
                         f"{_REFUSAL_FIXES.get(code, '')}")


_REFUSAL_FIXES = {
    403: ". The participant's media-server token or the server's API secret was not "
         "accepted: the token was never added, was removed when the participant left, or "
         "the media server restarted with new secrets (restart the signaling server too)",
    405: ". The participant's media-server token does not allow this plugin",
    428: ". The publisher has not connected its media yet: subscribe once it has",
    433: ". The participant is not allowed into this media-server room (it left or was "
         "removed, or its token was never allowed there)",
    458: ". The media-server session expired or the media server restarted: connect again",
}


class CaseKeyError(RecordingError):
    """An encrypted case (see :mod:`surgery_teach.casefile.sealing`) cannot be opened or
    written with the keys at hand. Nothing on disk was changed."""


class CaseLockedError(CaseKeyError):
    """The case is encrypted with a key this computer does not have unlocked: neither in
    the operating system's keyring nor opened with a passphrase yet. ``key_id`` names
    the key (not secret); ``passphrase`` says whether a hospital passphrase opens it."""

    def __init__(self, path: str, key_id: str, *, passphrase: bool) -> None:
        self.path, self.key_id, self.passphrase = path, key_id, passphrase
        fix = (
            "Enter the hospital passphrase it was recorded with."
            if passphrase else
            "It was recorded with a key kept in another computer's keyring: open it there, "
            "or copy that key into this computer's keyring."
        )
        super().__init__(f"{path} is encrypted (key {key_id}) and this computer does not "
                         f"have its key unlocked. {fix} Nothing was changed.",
                         str(path))


class WrongPassphraseError(CaseKeyError):
    """A passphrase does not give the key a case was recorded with."""

    def __init__(self, path: str, key_id: str) -> None:
        self.path, self.key_id = path, key_id
        super().__init__(f"the passphrase does not open {path} (it was recorded with key "
                         f"{key_id}): check the passphrase, including capitals and the "
                         "keyboard layout. Nothing was changed.", str(path))


class KeyringUnavailableError(CaseKeyError):
    """The operating system's keyring cannot be used (a headless machine has none), so
    no recording key can be kept there."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"no keyring to keep the recording key in ({reason}). Give a hospital "
            "passphrase instead (--case-passphrase-file FILE, or the "
            "SURGERY_TEACH_CASE_PASSPHRASE environment variable), or record without "
            "encryption (--no-encrypt) for teaching material that shows no patient."
        )


class PlainExportError(CaseKeyError):
    """A clip of an encrypted case would be a plain MP4: the user must first accept the
    warning (``warning``), then export again with the choice made."""

    def __init__(self, warning: str) -> None:
        self.warning = warning
        super().__init__(f"{warning} Confirm the export without encryption to go on; "
                         "nothing was written.")


class TrackingError(SurgeryTeachError):
    """A mark cannot be anchored to the tissue (too little detail under it, outside the
    picture) or the frames given to the tracker do not fit (another size or format)."""


class ShareError(SurgeryTeachError):
    """A file cannot be shared into the session (see :mod:`surgery_teach.sharing`):
    nothing was sent. ``path`` is the file concerned ("" when there is none)."""

    def __init__(self, message: str, path: str = "") -> None:
        self.path = path
        super().__init__(message)


class ShareTooLargeError(ShareError):
    """The file is larger than a share may be; ``size`` and ``limit`` are in bytes."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        self.size, self.limit = size, limit
        super().__init__(
            f"{path} is {size / 1e6:.1f} MB, more than the {limit / 1e6:.0f} MB a shared "
            "file may be. Export a single image or page (PNG, JPEG, one DICOM slice or a "
            "shorter PDF) and share that. Nothing was sent.", path)


class UnsupportedShareError(ShareError):
    """The file is of a kind (or a DICOM compression) that cannot be shown."""


class CorruptShareError(ShareError):
    """The file claims a supported kind but cannot be read (truncated, damaged)."""


class EncryptedShareError(ShareError):
    """The document is protected by a password that was not given (or is wrong).

    ``password_given``: a password was tried and does not open it. ``password_helps``:
    False when the protection is not a password this program can use (a certificate, an
    unknown security handler), so asking for one would be pointless. The password itself
    is never kept here: an error is logged and shown."""

    def __init__(self, message: str, path: str = "", *, password_given: bool = False,
                 password_helps: bool = True) -> None:
        self.password_given = password_given
        self.password_helps = password_helps
        super().__init__(message, path)


class ShareTransferError(ShareError):
    """A shared picture arrived malformed, too large or failed its integrity check."""
