# The two commands of the README: `make run` and `make test`. Both set up everything
# themselves on a fresh Debian machine with Python 3.11 (virtualenv, pinned pip install,
# Debian packages).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libportaudio2 xvfb ffmpeg libegl1 libxkbcommon0 libxkbcommon-x11-0 \
	libfontconfig1 libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 \
	libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 \
	libxcb-xfixes0 fonts-noto-cjk coturn iptables iproute2 postgresql \
	pulseaudio pulseaudio-utils libasound2-plugins janus
STAMP := $(VENV)/.setup-done

.PHONY: setup run library demo-headless test lint bench bench-load bench-voice clean package netlab

# The translation catalogues (gettext .po, see ui/catalogs.py) compiled to .mo.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard ui/translations/*.po))

setup: $(STAMP) $(CATALOGS)

ui/translations/%.mo: ui/translations/%.po $(STAMP)
	$(PY) -m ui.catalogs

$(STAMP): requirements.txt requirements-dev.txt Makefile
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

run: setup
	$(PY) -m ui --demo

# The library of recorded cases (DIR=... for another folder than the one in the settings).
library: setup
	$(PY) -m ui --library $(DIR)

# The same demo without a screen: server, synthetic surgeon and a trainee printing stats.
demo-headless: setup
	$(PY) -m surgery_teach.demo

test: setup
	$(PY) -m pytest

# The desktop app as one folder, dist/surgery_teach/ (PyInstaller, see pyinstaller.spec),
# checked by running it: the window with video, then codecs and encryption between peers.
package: setup
	$(VENV)/bin/pyinstaller --noconfirm --clean pyinstaller.spec
	dist/surgery_teach/surgery_teach --self-test
	dist/surgery_teach/surgery_teach --bundle-check

bench: setup
	$(PY) -m bench.live

# The signaling server under 2,000 websocket clients in 20 rooms (server in its own process).
bench-load: setup
	$(PY) -m bench.load

# Voice between two clients on virtual sound devices (a private PulseAudio server):
# mouth-to-ear, gaps, 3% loss, echo cancellation, push-to-talk, a sound server restart.
bench-voice: setup
	$(PY) -m bench.voice

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache

# The network lab, as root: the hospitals' sites in network namespaces behind shaped, lossy
# and NATed links, with coturn; one table row per viewer and scenario (bench/netlab).
netlab: setup
	$(PY) -m bench.netlab
