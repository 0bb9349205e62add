"""Runtime hook: sounddevice loads the PortAudio library shipped inside the bundle.

sounddevice looks PortAudio up with ``ctypes.util.find_library("portaudio")``, which on Linux
asks ldconfig and so knows only the system's libraries: on a computer without libportaudio2
the app would run without audio devices although the bundle carries PortAudio (PyInstaller's
sounddevice hook collects it). Answer that one lookup with the bundled copy.
"""

import ctypes.util
import os
import sys

_BUNDLED = os.path.join(sys._MEIPASS, "libportaudio.so.2")

if os.path.isfile(_BUNDLED):
    _find_library = ctypes.util.find_library

    def _find_bundled_portaudio(name):
        return _BUNDLED if name == "portaudio" else _find_library(name)

    ctypes.util.find_library = _find_bundled_portaudio
