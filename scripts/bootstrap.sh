#!/usr/bin/env bash
# Prepare this checkout to run the hall or its tests on Debian / Raspberry Pi OS:
# Debian packages (mosquitto, a Python with venv, fonts), then a virtual
# environment at .venv with motcua installed in editable mode.
# Safe to run again: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

# Debian packages: what must be on the box for motcua itself.
#   mosquitto            the site broker (tests and the demo start their own on loopback)
#   mosquitto-clients    mosquitto_sub/pub for technicians
#   fonts-dejavu-core    Vietnamese-covering font for screens and tickets
#   systemd              systemd-analyze, to check the shipped units (present on any real box)
#   espeak-ng            Vietnamese voice the announcer's default voice pack is generated from
#   libglib2.0-0         libgthread, which pygame's audio mixer needs
#   chromium, chromium-driver   the browser the web pages' tests drive (headless; never downloaded by a test)
#   nftables, iproute2   the broker's per-source connection limits (systemd/motcua-broker.nft), and the
#                        network namespaces tests/test_flood.py tries them in
#   poppler-utils        pdftoppm/pdffonts/pdftotext: the tests look at the reports' PDF pages
#   xvfb, imagemagick    a real X server for the screen tests and bench/screens.py, and `import` to see its picture
#   xdotool              the screen tests resize a window from outside, as a mode change does
#   postgresql           the province collector's database (the tests start their own cluster with initdb/pg_ctl)
#   python3-pygame       Debian's pygame, what a screen box runs (its SDL draws on KMS/DRM; PyPI's cannot): the
#                        tests draw the screens with it under the OS's python3 and make a box's venv keep it
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)   # the tests verify our units with it
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || need+=(nftables)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
command -v import >/dev/null 2>&1 || need+=(imagemagick)
command -v xdotool >/dev/null 2>&1 || need+=(xdotool)
# pygame's mixer (the announcer) loads libgthread-2.0 at run time; minimal systems lack it
have_gthread=no
for lib in /usr/lib/*/libgthread-2.0.so.0 /usr/lib/libgthread-2.0.so.0; do [ -e "$lib" ] && have_gthread=yes; done
[ "$have_gthread" = yes ] || need+=(libglib2.0-0)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then need+=(python3-venv); fi
if [ -x /usr/bin/apt-get ]; then
    [ -f /usr/lib/python3/dist-packages/pygame/__init__.py ] || need+=(python3-pygame)
    /usr/bin/python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
    # a box's venv is filled by the OS's own pip (boxes/boxvenv.py), as on Raspberry Pi OS
    /usr/bin/python3 -c 'import pip' >/dev/null 2>&1 || need+=(python3-pip)
fi
# 32-bit Raspberry Pi OS: PyPI has no pygame wheel for armhf, so pip builds it against SDL2.
case "$(uname -m)" in
    armv6l|armv7l)
        for pkg in libsdl2-dev libsdl2-image-dev libsdl2-mixer-dev libsdl2-ttf-dev libfreetype-dev; do
            dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
        done ;;
esac

if [ ${#need[@]} -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${need[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "bootstrap: need root (or sudo) to install ${need[*]}" >&2; exit 1; }
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The venv is rebuilt when pyproject.toml changes (the stamp is older).
stamp=$VENV/.motcua-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev,test]'
    touch "$stamp"
fi

# The announcer's default voice pack: word clips generated from espeak-ng's
# Vietnamese voice, into the venv's data dir (AnnouncerSettings.voice.pack's default).
pack=$VENV/share/motcua/voice/vi-default
if [ ! -f "$pack/manifest.toml" ] || [ announcer/voicepack.py -nt "$pack/manifest.toml" ] \
        || [ announcer/numbers.py -nt "$pack/manifest.toml" ]; then
    if command -v espeak-ng >/dev/null 2>&1; then
        echo "bootstrap: generating the announcer's voice pack in $pack"
        "$VENV/bin/motcua" voicepack build "$pack" >/dev/null
    else
        echo "bootstrap: espeak-ng missing: no default voice pack (motcua voicepack build $pack)" >&2
    fi
fi
