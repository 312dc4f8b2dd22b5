#!/usr/bin/env bash
# Create .venv and install fusionrec with every pinned dependency the tests and the demo use.
# Idempotent: a second run only checks. System packages (chromium, ffmpeg, espeak-ng, sox) are
# installed with apt-get when missing and we are root; otherwise the tests that need them skip.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
APT_PACKAGES=(chromium ffmpeg espeak-ng sox libsox-fmt-all)

install_system_packages() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v sox >/dev/null || missing+=(sox libsox-fmt-all)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: missing system packages ${missing[*]}; install them (apt-get install ${APT_PACKAGES[*]}) or the media/browser tests will skip" >&2
    return 0
  fi
  echo "setup: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

pick_python() {
  # torch 2.13.0 CPU is available locally for CPython 3.11; prefer it.
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
      echo "$candidate"; return 0
    fi
  done
  echo "setup: Python 3.10+ is required" >&2; exit 1
}

install_system_packages
if [ ! -x "$VENV/bin/python" ]; then
  "$(pick_python)" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
stamp="$VENV/.fusionrec-installed"
digest=$(cat pyproject.toml constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
  exit 0
fi
# torch first, pinned, so that no other package pulls a CUDA build.
"${PIP[@]}" install "torch==2.13.0"
"${PIP[@]}" install -c constraints.txt -e ".[encoders,serve,llm,tune,ray,dev]"
# aisfx declares heavy, unpinned dependencies it does not need at inference time.
"${PIP[@]}" install -c constraints.txt --no-deps aisfx
echo "$digest" > "$stamp"
echo "setup: $VENV ready"
