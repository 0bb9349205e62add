"""A real window on a real (virtual) X display: the screen shows the video."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PyQt6.QtGui import QImage

from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is installed by make setup"),
]


@pytest.fixture
def display() -> str:
    # -displayfd lets Xvfb pick a free display number and tell us which.
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


def test_self_test_window_shows_video_on_the_x_screen(display: str, tmp_path: Path) -> None:
    shot = tmp_path / "screen.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    env["DISPLAY"] = display
    result = subprocess.run([sys.executable, "-m", "ui", "--self-test", "--screenshot", str(shot)],
                            cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=seconds(90))
    assert result.returncode == 0, result.stderr
    assert "self-test ok" in result.stdout
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    assert (image.width(), image.height()) == (1600, 1000)  # the whole X screen
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    tissue = (red > 120) & (red > green + 40) & (red > blue + 20)
    assert tissue.mean() > 0.05, "no laparoscope picture visible on the screen"
