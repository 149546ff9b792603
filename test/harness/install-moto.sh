#!/usr/bin/env bash
# Installs moto's server (the AWS API emulator the AWS provider's tests run against) with pip into a venv
# in a cache dir outside the repo, at a pinned version. A no-op when it is already there.
# Prints the path of the moto_server binary (the only line on stdout).
set -euo pipefail

MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
CACHE_DIR="${LBP_CACHE_DIR:-$HOME/.cache/lb-provisioner}"
VENV="$CACHE_DIR/moto-$MOTO_VERSION"
BIN="$VENV/bin/moto_server"

mkdir -p "$CACHE_DIR"
# Two test workers may ask at once: one installs, the other waits.
exec 9>"$CACHE_DIR/.moto-$MOTO_VERSION.lock"
flock 9

# The marker is written last, so an interrupted install is redone rather than trusted.
if [[ -x "$BIN" && -f "$VENV/.installed" ]]; then
  echo "$BIN"
  exit 0
fi

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "install-moto: $PYTHON not found" >&2; exit 1; }
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
"$BIN" --help >/dev/null
touch "$VENV/.installed"
echo "$BIN"
