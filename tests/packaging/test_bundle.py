"""The packaged desktop app (``pyinstaller.spec``, one folder) runs on its own.

The bundle is built once for this module into a temporary folder (about 40 s on two cores
once PyInstaller's cache is warm, a little more the first time); each test then runs the
built executable as a user would, with nothing from the source tree on its path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from tests.timing import seconds
from ui.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
# The build happens in the first test's setup, so each test may take that long.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(seconds(900))]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``dist/surgery_teach/surgery_teach`` built from the spec into a temporary folder."""
    out = tmp_path_factory.mktemp("bundle")
    started = time.monotonic()
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(out / "dist"),
         "--workpath", str(out / "build"), str(ROOT / "pyinstaller.spec")],
        cwd=out, capture_output=True, text=True, timeout=seconds(600),
    )
    assert build.returncode == 0, build.stderr[-6000:]
    print(f"bundle built in {time.monotonic() - started:.0f} s")
    executable = out / "dist" / "surgery_teach" / "surgery_teach"
    assert os.access(executable, os.X_OK)
    return executable


def run(app: Path, *args: str, display: str | None = None,
        timeout: float = seconds(120)) -> subprocess.CompletedProcess[str]:
    """Run the bundle offscreen, or on the X ``display``, from a folder outside the repo."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH")}
    if display:
        env["DISPLAY"] = display
    else:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run([str(app), *args], cwd=app.parent, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_self_test_draws_synthetic_video_offscreen(app: Path) -> None:
    """Qt, the embedded signaling server and the synthetic source all work frozen."""
    result = run(app, "--self-test")
    assert result.returncode == 0, result.stderr
    assert "self-test ok" in result.stdout


def test_help_lists_the_options(app: Path) -> None:
    result = run(app, "--help")
    assert result.returncode == 0, result.stderr
    assert "--self-test" in result.stdout and "--language" in result.stdout


@pytest.mark.parametrize("language", sorted(set(LANGUAGES) - {"en"}))
def test_translations_are_bundled_where_i18n_finds_them(app: Path, language: str) -> None:
    """The compiled catalogs sit beside the frozen ``ui/i18n`` and the app loads them
    without a warning."""
    from ui.catalogs import compile_po

    source = ROOT / "ui" / "translations" / f"{language}.po"
    bundled = app.parent / "_internal" / "ui" / "translations" / f"{language}.mo"
    assert source.is_file(), f"no {language} catalog in the source tree to bundle"
    assert bundled.read_bytes() == compile_po(source)
    result = run(app, "--self-test", "--language", language, "--log-level", "warning")
    assert result.returncode == 0, result.stderr
    assert "unavailable" not in result.stderr, result.stderr


def test_bundle_check_sends_h264_vp8_opus_and_data_between_peers(app: Path) -> None:
    """Codecs (PyAV's libraries), DTLS, SRTP and SCTP work frozen, not just the window."""
    result = run(app, "--bundle-check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundle-check ok" in result.stdout


def test_bundle_leaves_out_what_the_client_does_not_use(app: Path) -> None:
    files = {p.relative_to(app.parent).as_posix() for p in app.parent.rglob("*")}
    platforms = {Path(f).name for f in files if "/plugins/platforms/" in f}
    assert platforms == {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"}
    for unused in ("tkinter", "QtWebEngine", "QtQuick", "QtMultimedia", "libqgtk3", "pytest",
                   "hypothesis", "libQt6Pdf"):
        assert not [f for f in files if unused in f], unused


@pytest.fixture
def display() -> Iterator[str]:
    """A private Xvfb screen; -displayfd lets it pick a free display number."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is installed by make setup")
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=seconds(10))


def test_self_test_shows_video_on_a_real_x_screen(app: Path, display: str,
                                                  tmp_path: Path) -> None:
    """The bundled xcb platform plugin and its X libraries draw a real window."""
    shot = tmp_path / "screen.png"
    result = run(app, "--self-test", "--screenshot", str(shot), display=display)
    assert result.returncode == 0, result.stderr
    assert "self-test ok" in result.stdout
    bgr = cv2.imread(str(shot)).astype(int)
    assert bgr.shape == (1000, 1600, 3)  # the whole X screen
    blue, green, red = bgr[..., 0], bgr[..., 1], bgr[..., 2]
    tissue = (red > 120) & (red > green + 40) & (red > blue + 20)
    assert tissue.mean() > 0.05, "no laparoscope picture visible on the screen"
