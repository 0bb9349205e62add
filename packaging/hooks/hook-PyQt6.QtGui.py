"""PyInstaller's own QtGui hook, minus the Qt plugins this client never loads.

This replaces the built-in hook (a hook in the spec's ``hookspath`` wins). The plugins are
dropped here, before PyInstaller follows their library dependencies: filtering them out of
the finished analysis would still ship what they link to (GTK's cairo and pango, QtPdf).
"""

from __future__ import annotations

from pathlib import PurePath

from PyInstaller.utils.hooks import logger
from PyInstaller.utils.hooks.qt import add_qt6_dependencies

# X11, Wayland, and offscreen for --self-test; the others are for embedded boards,
# VNC and Vulkan displays.
PLATFORMS = {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"}
UNUSED_KINDS = {
    "egldeviceintegrations",  # only for the eglfs platform, not shipped
    "generic",  # evdev and TUIO input, for the embedded platforms
}
UNUSED_PLUGINS = {
    # The GTK3 theme loads the desktop's GTK next to the bundle's own cairo and pango, a
    # mix that can crash; the app draws with its own Fusion theme anyway.
    "libqgtk3.so",
    "libqpdf.so",  # PDF as an image format would bring in all of QtPdf
}


def used(plugin: str) -> bool:
    path = PurePath(plugin)
    kind = path.parent.name
    if kind == "platforms":
        return path.name in PLATFORMS
    return kind not in UNUSED_KINDS and path.name not in UNUSED_PLUGINS


hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
dropped = [src for src, dest in binaries if "plugins" in PurePath(dest).parts and not used(src)]
binaries = [(src, dest) for src, dest in binaries if src not in dropped]
logger.info("surgery_teach: left out %d unused Qt plugins", len(dropped))
