"""Case keys: the OS keyring (an in-memory backend at the keyring package's own seam), a
headless machine without one, hospital passphrases, and the export warning."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.backends.fail
import pytest

from surgery_teach.casefile.keys import (
    KEYRING_SERVICE,
    PASSPHRASE_ENV,
    KdfParams,
    KeyRing,
    default_keyring_key,
    passphrase_key,
    random_key,
    recording_key,
    use_key_ring,
)
from surgery_teach.errors import ConfigError, KeyringUnavailableError


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps its passwords in a dict (and records them)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def ring(monkeypatch: pytest.MonkeyPatch) -> Iterator[KeyRing]:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)  # the tests' own passphrase: none here
    ring = KeyRing()
    previous = use_key_ring(ring)
    try:
        yield ring
    finally:
        use_key_ring(previous)


@pytest.fixture
def os_keyring() -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_the_recording_key_is_made_once_and_kept_in_the_os_keyring(
        ring: KeyRing, os_keyring: MemoryKeyring) -> None:
    first = recording_key(encrypt=True)
    assert first is not None and first.kdf is None
    assert os_keyring.passwords[(KEYRING_SERVICE, "default")] == first.key_id
    assert recording_key(encrypt=True) == first  # the same key for the next case
    ring.forget()
    assert ring.find(first.key_id, None) == first  # found again in the keyring by its id
    assert repr(first.secret) not in repr(first)  # never printed into a log


def test_a_machine_without_keyring_says_what_to_do_instead(ring: KeyRing) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # what a headless station has
    try:
        with pytest.raises(KeyringUnavailableError) as raised:
            default_keyring_key()
        assert ring.find(random_key().key_id, None) is None  # reading just finds no key
    finally:
        keyring.set_keyring(previous)
    text = str(raised.value)
    assert "passphrase" in text and "--no-encrypt" in text


def test_plain_recording_needs_an_explicit_choice(
        ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    assert recording_key(encrypt=False) is None
    monkeypatch.setenv(PASSPHRASE_ENV, "short")
    with pytest.raises(ConfigError, match="at least 10 characters"):
        recording_key(encrypt=True)
    monkeypatch.setenv(PASSPHRASE_ENV, "a long hospital passphrase")
    key = recording_key(encrypt=True)
    assert key is not None and key.kdf is not None


def test_a_passphrase_gives_the_same_key_only_with_the_same_salt() -> None:
    kdf = KdfParams(salt=os.urandom(16), log_n=10)
    one = passphrase_key("theatre three blue", kdf)
    assert passphrase_key("theatre three blue", kdf) == one
    assert passphrase_key("theatre three blue", KdfParams(os.urandom(16), 10)) != one
    assert passphrase_key("theatre three blu", kdf).key_id != one.key_id
    with pytest.raises(ConfigError):  # a hostile header cannot ask for 1 GiB of memory
        KdfParams(salt=os.urandom(16), log_n=20)


def test_exporting_an_encrypted_case_needs_the_warning_accepted(
        tmp_path: Path, ring: KeyRing) -> None:
    from surgery_teach.casebook.case import RecordedCase
    from surgery_teach.casebook.export import PLAIN_EXPORT_WARNING, export_clip, export_warning
    from surgery_teach.casefile import Manifest
    from surgery_teach.casefile.sealed_folder import seal_folder
    from surgery_teach.errors import PlainExportError

    plain = RecordedCase(tmp_path, Manifest(title="x"), [], False, False)
    assert export_warning(plain) is None
    folder = tmp_path / "sealed"
    folder.mkdir()
    seal_folder(folder, ring.add(random_key()))
    case = RecordedCase(folder, Manifest(title="x"), [], False, False)
    assert export_warning(case) == PLAIN_EXPORT_WARNING
    out = tmp_path / "clip.mp4"
    with pytest.raises(PlainExportError) as refused:
        export_clip(case, "Endoscope", 0, 1, out)
    assert refused.value.warning == PLAIN_EXPORT_WARNING and "nothing was written" in str(
        refused.value)
    assert not out.exists()
