#!/usr/bin/env bash
# Build an offline installation bundle on a machine with access to PyPI (or a mirror):
#   install/make-bundle.sh [--out DIR] [--extras cpu|gpu|none] [--no-model]
# The bundle holds every Python wheel (the appliance and its dependencies), the provisioned
# model and trained adapters, the systemd units, the example config and install.sh. Copy the
# .tar.gz to the server and run `sudo ./install.sh install` inside the unpacked folder: no
# network is needed there. Build it with the same Python minor version as the target's python3
# (Debian 12: 3.11, Ubuntu 24.04: 3.12): the wheels of compiled packages are per version.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=cpu
OUT=
WITH_MODEL=1
PY=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --extras) EXTRAS=$2; shift 2 ;;
    --no-model) WITH_MODEL=0; shift ;;
    *) echo "usage: $0 [--out DIR] [--extras cpu|gpu|none] [--no-model]" >&2; exit 2 ;;
  esac
done
say() { printf '[bundle] %s\n' "$*"; }
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
PYTAG=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
OUT=${OUT:-dist/appliance-bundle-$VERSION-$REV}
rm -rf "$OUT"
mkdir -p "$OUT/wheels" "$OUT/models" "$OUT/systemd" "$OUT/configs"
SPEC="."
[ "$EXTRAS" != none ] && SPEC=".[$EXTRAS]"
say "collecting wheels for $SPEC (Python $PYTAG) into $OUT/wheels"
"$PY" -m pip wheel -q --wheel-dir "$OUT/wheels" "$SPEC" pip
if [ "$WITH_MODEL" = 1 ]; then
  [ -x .venv/bin/appliance ] || { echo "no .venv: run ./run setup first (it provisions the model)" >&2; exit 1; }
  .venv/bin/appliance models fetch >/dev/null
  model=$(.venv/bin/python -c 'from appliance.settings import load_settings; print(load_settings().model_dir)')
  say "model $(basename "$model")"
  cp -a models/manifest.toml "$OUT/models/"
  cp -a "$model" "$OUT/models/"
  if [ -d models/adapters ]; then
    say "adapters: $(ls models/adapters | tr '\n' ' ')"
    cp -a models/adapters "$OUT/models/"
  fi
fi
cp -a systemd/. "$OUT/systemd/"
cp -a configs/appliance.example.toml "$OUT/configs/"
cp -a install/install.sh "$OUT/"
printf 'version=%s\nrevision=%s\npython=%s\nextras=%s\nbuilt=%s\n' \
  "$VERSION" "$REV" "$PYTAG" "$EXTRAS" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$OUT/VERSION"
(cd "$OUT" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS)
tar -C "$(dirname "$OUT")" -czf "$OUT.tar.gz" "$(basename "$OUT")"
say "bundle: $OUT.tar.gz ($(du -sh "$OUT.tar.gz" | cut -f1))"
