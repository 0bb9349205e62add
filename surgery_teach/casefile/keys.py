"""The keys that encrypt case folders: random keys kept in the operating system's keyring,
or keys derived from a hospital passphrase with scrypt.

A key is 32 random (or scrypt-derived) bytes; its ``key_id`` (16 hex digits, derived from
the key by HKDF, so it tells nothing about it) is written in the header of every file it
encrypts, so a reader knows which key to look for and a wrong passphrase is recognised
at once, before anything is decrypted.

:class:`KeyRing` is what this process has unlocked, like an SSH agent: keys added
explicitly, keys found in the OS keyring by id, and passphrases the user typed (kept in
memory only, never written or logged) which open every case recorded with them. Readers
and writers of an encrypted folder look their key up here (:func:`unlocked`), so the
player, the library and export need no key passed through each call.

Where a machine has no keyring backend (a headless recording station),
:class:`~surgery_teach.errors.KeyringUnavailableError` says to give a passphrase or to
record without encryption; the keyring is never skipped silently.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from surgery_teach.errors import (
    CaseLockedError,
    ConfigError,
    KeyringUnavailableError,
    WrongPassphraseError,
)

logger = logging.getLogger("surgery_teach.recording")

KEY_BYTES: Final = 32
KEYRING_SERVICE: Final = "surgery-teach case key"
KEYRING_DEFAULT: Final = "default"  # the keyring entry naming the key new cases use
PASSPHRASE_ENV: Final = "SURGERY_TEACH_CASE_PASSPHRASE"
MIN_PASSPHRASE_CHARS: Final = 10
# scrypt: 2**15 x 8 x 128 B = 32 MiB and ~0.1 s per derivation. A file's header may ask
# for other costs (within these bounds, so a hostile header cannot exhaust memory).
DEFAULT_LOG_N: Final = 15
_MAX_LOG_N, _MAX_R, _MAX_P = 17, 16, 4


@dataclass(frozen=True)
class KdfParams:
    """How a passphrase becomes a key: scrypt with this salt and cost."""

    salt: bytes
    log_n: int = DEFAULT_LOG_N
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if len(self.salt) != 16:
            raise ConfigError("a passphrase salt is 16 bytes")
        if not (10 <= self.log_n <= _MAX_LOG_N and 1 <= self.r <= _MAX_R
                and 1 <= self.p <= _MAX_P):
            raise ConfigError(f"scrypt cost out of range: 2**{self.log_n}, r={self.r}, "
                              f"p={self.p}")

    @classmethod
    def new(cls) -> KdfParams:
        return cls(salt=secrets.token_bytes(16))


@dataclass(frozen=True)
class CaseKey:
    """A 32-byte key. ``kdf`` is set when it comes from a passphrase (then the files it
    writes carry the salt, so the passphrase alone opens them). Never printed: the repr
    shows only the id."""

    secret: bytes = field(repr=False)
    kdf: KdfParams | None = None

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ConfigError(f"a case key is {KEY_BYTES} bytes, got {len(self.secret)}")

    @property
    def key_id(self) -> str:
        return key_id_of(self.secret)


def key_id_of(secret: bytes) -> str:
    """16 hex digits naming ``secret`` (HKDF of it: one-way)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=8, salt=None,
                info=b"surgery-teach case key id")
    return hkdf.derive(secret).hex()


def random_key() -> CaseKey:
    return CaseKey(secrets.token_bytes(KEY_BYTES))


def check_passphrase(passphrase: str) -> str:
    """``passphrase`` if it is long enough; :class:`ConfigError` with the rule if not."""
    if len(passphrase.strip()) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(f"a hospital passphrase must have at least {MIN_PASSPHRASE_CHARS} "
                          "characters; a few words are easiest to remember")
    return passphrase


def passphrase_key(passphrase: str, kdf: KdfParams | None = None) -> CaseKey:
    """The key ``passphrase`` gives with ``kdf`` (a new random salt if none)."""
    kdf = kdf or KdfParams.new()
    scrypt = Scrypt(salt=kdf.salt, length=KEY_BYTES, n=2**kdf.log_n, r=kdf.r, p=kdf.p)
    return CaseKey(scrypt.derive(passphrase.encode("utf-8")), kdf)


# -- the operating system's keyring -------------------------------------------------------------


def _keyring():  # type: ignore[no-untyped-def]
    try:
        import keyring
        import keyring.errors
    except ImportError as exc:  # a broken install: say so as the keyring being unusable
        raise KeyringUnavailableError(f"the keyring package is missing: {exc}") from exc
    return keyring


def keyring_key(key_id: str) -> CaseKey | None:
    """The key ``key_id`` from the OS keyring; ``None`` if it is not there (or there is
    no keyring: reading then asks for a passphrase instead)."""
    keyring = _keyring()
    try:
        stored = keyring.get_password(KEYRING_SERVICE, key_id)
    except keyring.errors.KeyringError as exc:
        logger.debug("no keyring to look up a case key in: %s", type(exc).__name__)
        return None
    if stored is None:
        return None
    try:
        key = CaseKey(base64.b64decode(stored, validate=True))
    except (binascii.Error, ConfigError):
        logger.warning("the keyring entry for case key %s is damaged", key_id)
        return None
    return key if key.key_id == key_id else None


def default_keyring_key(*, create: bool = True) -> CaseKey:
    """The key new cases are recorded with, kept in the OS keyring (made and stored the
    first time if ``create``). :class:`KeyringUnavailableError` when there is no keyring."""
    keyring = _keyring()
    try:
        key_id = keyring.get_password(KEYRING_SERVICE, KEYRING_DEFAULT)
        key = keyring_key(key_id) if key_id else None
        if key is None:
            if not create:
                raise KeyringUnavailableError("the keyring holds no recording key yet")
            key = random_key()
            keyring.set_password(KEYRING_SERVICE, key.key_id,
                                 base64.b64encode(key.secret).decode("ascii"))
            keyring.set_password(KEYRING_SERVICE, KEYRING_DEFAULT, key.key_id)
            logger.info("made a new recording key %s in the keyring", key.key_id)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailableError(
            f"{type(exc).__name__}: the operating system has no usable keyring"
        ) from exc
    return key


# -- what this process has unlocked -------------------------------------------------------------


class KeyRing:
    """Keys and passphrases unlocked in this process (thread-safe, memory only)."""

    def __init__(self, *, use_os_keyring: bool = True) -> None:
        self.use_os_keyring = use_os_keyring
        self._lock = threading.Lock()
        self._keys: dict[str, CaseKey] = {}
        self._passphrases: list[str] = []
        self._tried: set[tuple[str, KdfParams]] = set()

    def add(self, key: CaseKey) -> CaseKey:
        with self._lock:
            self._keys[key.key_id] = key
        return key

    def add_passphrase(self, passphrase: str) -> None:
        """Remember ``passphrase`` (memory only) to open any case recorded with it."""
        with self._lock:
            if passphrase not in self._passphrases:
                self._passphrases.append(passphrase)

    def forget(self) -> None:
        """Lock everything again (e.g. when the library window closes)."""
        with self._lock:
            self._keys.clear()
            self._passphrases.clear()
            self._tried.clear()

    def find(self, key_id: str, kdf: KdfParams | None) -> CaseKey | None:
        """The key ``key_id``: unlocked already, from a remembered passphrase (with the
        file's ``kdf``), or from the OS keyring; ``None`` if none gives it."""
        with self._lock:
            key = self._keys.get(key_id)
            passphrases = list(self._passphrases)
        if os.environ.get(PASSPHRASE_ENV):  # the hospital passphrase this computer runs with
            passphrases.append(os.environ[PASSPHRASE_ENV])
        if key is not None:
            return key
        if kdf is not None:
            for passphrase in passphrases:
                attempt = (passphrase, kdf)
                with self._lock:
                    if attempt in self._tried:
                        continue
                    self._tried.add(attempt)
                candidate = passphrase_key(passphrase, kdf)
                if candidate.key_id == key_id:
                    return self.add(candidate)
        if self.use_os_keyring:
            found = keyring_key(key_id)
            if found is not None:
                return self.add(found)
        return None

    def require(self, key_id: str, kdf: KdfParams | None, path: str) -> CaseKey:
        """:meth:`find`, or :class:`CaseLockedError` naming ``path`` and the fix."""
        key = self.find(key_id, kdf)
        if key is None:
            raise CaseLockedError(path, key_id, passphrase=kdf is not None)
        return key

    def unlock(self, passphrase: str, key_id: str, kdf: KdfParams, path: str) -> CaseKey:
        """Open the case at ``path`` (key ``key_id``) with ``passphrase``: remembered on
        success, :class:`WrongPassphraseError` otherwise (nothing is remembered)."""
        key = passphrase_key(passphrase, kdf)
        if key.key_id != key_id:
            raise WrongPassphraseError(path, key_id)
        self.add(key)
        self.add_passphrase(passphrase)
        return key


_ring = KeyRing()


def unlocked() -> KeyRing:
    """This process's key ring (tests swap it with :func:`use_key_ring`)."""
    return _ring


def use_key_ring(ring: KeyRing) -> KeyRing:
    """Make ``ring`` the process's key ring; returns the previous one."""
    global _ring
    previous, _ring = _ring, ring
    return previous


def recording_key(*, encrypt: bool, passphrase: str | None = None) -> CaseKey | None:
    """The key a new case is recorded with: ``None`` when ``encrypt`` is off (teaching
    material without patients); from ``passphrase`` (or ``SURGERY_TEACH_CASE_PASSPHRASE``)
    if given; else the OS keyring's (:class:`KeyringUnavailableError` if there is none).
    The key is added to :func:`unlocked` so the case's own files can be written."""
    if not encrypt:
        return None
    passphrase = passphrase or os.environ.get(PASSPHRASE_ENV) or None
    if passphrase is not None:
        key = passphrase_key(check_passphrase(passphrase))
        ring = unlocked()
        ring.add_passphrase(passphrase)
        return ring.add(key)
    return unlocked().add(default_keyring_key(create=True))
