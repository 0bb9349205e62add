"""Screenshots of the session windows as users see them: ``python -m ui.screenshots DIR``.

For each language it starts a virtual X screen (Xvfb, 1366x768, a laptop's), a signaling
server, and one real desktop window at a time beside a headless partner: the surgeon's
window (a long hospital name, two synthetic sources) with a trainee watching, then the
trainee's window watching a headless surgeon. The whole X screen is saved as
``DIR/<window>-<language>.png``, so what does not fit the screen shows as cut off.
Needs Xvfb (``make setup`` installs it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from surgery_teach.demo import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
SIZE = (1366, 768)
LANGUAGES = ("en", "zh_CN", "ru")
SURGEON = "Dr Zhang, Zepu County Hospital"
SOURCES = ("Laparoscope=synthetic:1280x720@30", "Room camera=synthetic:640x360@30")
SETTLE = 14.0  # seconds for windows to join, connect and show video


@contextlib.contextmanager
def xvfb() -> Iterator[str]:
    """A fresh virtual X screen of :data:`SIZE`; yields its DISPLAY."""
    read, write = os.pipe()
    screen = f"{SIZE[0]}x{SIZE[1]}x24"
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", screen,
                             "-nolisten", "tcp"], pass_fds=(write,))
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        if not number:
            raise SystemExit("Xvfb did not start (make setup installs it)")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def grab(display: str, path: Path) -> None:
    """Save the whole X screen (a separate Qt process reads the root window)."""
    code = ("import sys; from PyQt6.QtWidgets import QApplication; app = QApplication([]); "
            "shot = app.primaryScreen().grabWindow(0); "
            "sys.exit(0 if shot.save(sys.argv[1]) else 1)")
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True, timeout=60)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def shoot(out: Path, language: str) -> list[Path]:
    """Both windows in ``language``; returns the files written."""
    written = []
    with xvfb() as display, tempfile.TemporaryDirectory() as config:
        env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
        env.update(DISPLAY=display, SURGERY_TEACH_CONFIG_DIR=config)
        port = free_port()
        url = f"ws://127.0.0.1:{port}"
        server = _start(["-m", "signaling_server", "--port", str(port)], env)
        try:
            wait_for_port(port)
            sources = [a for spec in SOURCES for a in ("--source", spec)]
            for window, partner in (
                (["--role", "surgeon", "--name", SURGEON, *sources],
                 ["watch", "--name", "Trainee Osh", "--role", "trainee"]),
                (["--role", "trainee", "--name", "Айнур Абдыкадырова, Ош"],
                 ["publish", "--name", SURGEON, "--role", "surgeon",
                  *sources]),
            ):
                room = f"shots-{language}-{window[1]}"
                app = _start(["-m", "ui", "--server", url, "--room", room,
                              "--language", language, *window], env)
                helper = _start(["-m", "surgery_teach", *partner, "--server", url,
                                 "--room", room, "--stats-every", "0"], env)
                try:
                    time.sleep(SETTLE)
                    path = out / f"{window[1]}-{language}.png"
                    grab(display, path)
                    written.append(path)
                finally:
                    for proc in (helper, app):
                        proc.terminate()
                    for proc in (helper, app):
                        try:
                            proc.wait(timeout=15)
                        except subprocess.TimeoutExpired:
                            proc.kill()
        finally:
            server.terminate()
            server.wait(timeout=15)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, nargs="?", default=ROOT / "docs" / "screenshots")
    parser.add_argument("--language", action="append", choices=LANGUAGES)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for language in args.language or LANGUAGES:
        for path in shoot(args.out, language):
            print(path)


if __name__ == "__main__":
    main()
