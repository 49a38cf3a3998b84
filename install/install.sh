#!/usr/bin/env bash
# Install, upgrade or roll back the appliance on a Debian/Ubuntu server from an offline bundle
# (made by install/make-bundle.sh). Run as root inside the unpacked bundle:
#
#   ./install.sh install  [--profile cpu-small|cpu-large|gpu-16gb|gpu-24gb|gpu-80gb-2x] [--gpu]
#   ./install.sh upgrade            # backup, switch release, start, health check, auto-rollback
#   ./install.sh rollback           # previous release (+ pre-upgrade backup if the schema moved)
#   ./install.sh status
#
# Layout: releases in $PREFIX/releases/<version>-<rev>, the running one is $PREFIX/current
# (a symlink switched atomically), the one before is $PREFIX/previous; state in $DATA
# (database, raw mails, models and adapters, backups); config and secrets in $ETC.
# Options for tests and unusual hosts: --prefix, --data, --etc, --unit-dir, --no-systemd,
# --no-apt, --no-user (run as the invoking user), --health-timeout S.
set -euo pipefail
BUNDLE=$(cd "$(dirname "$0")" && pwd)
PREFIX=/opt/appliance
DATA=/var/lib/appliance
ETC=/etc/appliance
UNIT_DIR=/etc/systemd/system
PROFILE=cpu-small
GPU=0
SYSTEMD=1
APT=1
MKUSER=1
HEALTH_TIMEOUT=300
SVC_USER=appliance
ACTION=${1:-}
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --etc) ETC=$2; shift 2 ;;
    --unit-dir) UNIT_DIR=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    --gpu) GPU=1; shift ;;
    --no-systemd) SYSTEMD=0; shift ;;
    --no-apt) APT=0; shift ;;
    --no-user) MKUSER=0; SVC_USER=$(id -un); shift ;;
    --health-timeout) HEALTH_TIMEOUT=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
say() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }
bundle_var() { sed -n "s/^$1=//p" "$BUNDLE/VERSION"; }
CONFIG=$ETC/appliance.toml
export APPLIANCE_CONFIG=$CONFIG

verify_bundle() {
  [ -f "$BUNDLE/VERSION" ] || die "$BUNDLE is not an appliance bundle (no VERSION)"
  (cd "$BUNDLE" && sha256sum --quiet -c SHA256SUMS) || die "bundle damaged: checksums differ"
  local want have
  want=$(bundle_var python)
  have=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  [ "$want" = "$have" ] || die "bundle built for Python $want, this host has python3 $have"
  python3 -c 'import venv, ensurepip' 2>/dev/null || die "python3-venv is missing (apt install python3-venv)"
}

system_packages() {
  [ "$APT" = 1 ] || return 0
  local missing=()
  for p in redis-server python3-venv; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from the configured Debian sources (a local mirror offline)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

service_user() {
  [ "$MKUSER" = 1 ] || return 0
  id -u "$SVC_USER" >/dev/null 2>&1 && return 0
  say "creating system user $SVC_USER"
  useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$SVC_USER"
}

new_release() {
  local rel="$PREFIX/releases/$(bundle_var version)-$(bundle_var revision)"
  if [ -f "$rel/.complete" ]; then
    say "release $rel already installed" >&2
  else
    say "installing release $rel (offline, from the bundle's wheels)" >&2
    rm -rf "$rel"   # a half-built release from an interrupted run
    mkdir -p "$rel"
    python3 -m venv "$rel/venv"
    local extras spec
    extras=$(bundle_var extras)
    spec=supplier-mail-appliance
    [ "$extras" != none ] && spec="supplier-mail-appliance[$extras]"
    "$rel/venv/bin/pip" install -q --no-index --find-links "$BUNDLE/wheels" "$spec" >&2
    "$rel/venv/bin/pip" uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    cp "$BUNDLE/VERSION" "$rel/"
    touch "$rel/.complete"
  fi
  echo "$rel"
}

install_models() {
  mkdir -p "$DATA/models" "$DATA/backups"
  [ -d "$BUNDLE/models" ] || return 0
  local d
  for d in "$BUNDLE"/models/*; do
    [ -e "$d" ] || continue
    if [ "$(basename "$d")" = adapters ]; then
      mkdir -p "$DATA/models/adapters"
      cp -an "$d"/. "$DATA/models/adapters/"   # never overwrite adapters trained here
    else
      rm -rf "$DATA/models/$(basename "$d")"
      cp -a "$d" "$DATA/models/"
    fi
  done
}

write_config() {
  mkdir -p "$ETC/credentials"
  chmod 0750 "$ETC" && chmod 0700 "$ETC/credentials"
  cp "$BUNDLE/configs/appliance.example.toml" "$ETC/appliance.example.toml"
  [ -f "$CONFIG" ] && { say "keeping $CONFIG"; return 0; }
  say "writing $CONFIG (profile $PROFILE; edit accounts, outbox and suppliers there)"
  cat > "$CONFIG" <<CONF
# Supplier mail appliance: see $ETC/appliance.example.toml for every setting.
profile = "$PROFILE"

[paths]
data_dir = "$DATA"
models_dir = "$DATA/models"

# Secrets: put each in a file under $ETC/credentials/ and name it, e.g.
#   [[accounts]] ... password_file = "sales-password"
CONF
}

install_units() {
  [ "$SYSTEMD" = 1 ] || return 0
  local u
  for u in "$BUNDLE"/systemd/*.service "$BUNDLE"/systemd/*.target; do
    sed -e "s#/opt/appliance#$PREFIX#g" -e "s#/var/lib/appliance#$DATA#g" \
        -e "s#/etc/appliance#$ETC#g" "$u" > "$UNIT_DIR/$(basename "$u")"
  done
  # One LoadCredential= per secret file, for every unit that reads the config.
  for u in appliance-server appliance-worker; do
    mkdir -p "$UNIT_DIR/$u.service.d"
    {
      echo "[Service]"
      for f in "$ETC"/credentials/*; do
        [ -f "$f" ] && echo "LoadCredential=$(basename "$f"):$f"
      done
    } > "$UNIT_DIR/$u.service.d/credentials.conf"
  done
  if [ "$GPU" = 1 ]; then
    mkdir -p "$UNIT_DIR/appliance-llm.service.d"
    cp "$BUNDLE/systemd/gpu/gpu.conf" "$UNIT_DIR/appliance-llm.service.d/gpu.conf"
  fi
  systemctl daemon-reload
  systemctl enable -q appliance.target appliance-llm.service appliance-server.service appliance-worker.service
}

own_state() {
  [ "$MKUSER" = 1 ] || return 0
  chown -R "$SVC_USER:$SVC_USER" "$DATA"
  chgrp -R "$SVC_USER" "$ETC"
}

switch_to() {  # atomically point $PREFIX/$1 at release $2
  ln -sfn "$2" "$PREFIX/.$1.new"
  mv -T "$PREFIX/.$1.new" "$PREFIX/$1"
}

services() {  # services start|stop
  [ "$SYSTEMD" = 1 ] || return 0
  if [ "$1" = stop ]; then
    systemctl stop appliance-worker.service appliance-server.service
  else
    systemctl start appliance.target
  fi
}

healthy() {
  [ "$SYSTEMD" = 1 ] || return 0
  local port deadline
  port=$("$PREFIX/current/venv/bin/appliance" config | python3 -c 'import json,sys; print(json.load(sys.stdin)["server"]["port"])')
  deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if python3 - "$port" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=5) as r:
    sys.exit(0 if json.load(r)["status"] == "ok" else 1)
PY
    then return 0; fi
    sleep 5
  done
  return 1
}

cmd_install() {
  verify_bundle
  system_packages
  service_user
  local rel
  rel=$(new_release)
  install_models
  write_config
  switch_to current "$rel"
  own_state
  install_units
  "$PREFIX/current/venv/bin/appliance" version
  say "installed. Next:"
  say "  1. edit $CONFIG (mail accounts, SMTP, suppliers) and put secrets in $ETC/credentials/"
  say "  2. create the first admin:  sudo -u $SVC_USER env APPLIANCE_CONFIG=$CONFIG $PREFIX/current/venv/bin/appliance users add admin --role admin"
  say "  3. start:  systemctl start appliance.target   (dashboard on http://127.0.0.1:8080/)"
}

cmd_upgrade() {
  verify_bundle
  [ -L "$PREFIX/current" ] || die "nothing installed in $PREFIX (run install first)"
  local old rel stamp backup
  old=$(readlink -f "$PREFIX/current")
  rel=$(new_release)
  [ "$old" = "$rel" ] && { say "release $rel is already current"; return 0; }
  install_models
  services stop
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  backup="$DATA/backups/pre-upgrade-$(basename "$old")-$stamp.tar.gz"
  say "backup before upgrade: $backup"
  "$old/venv/bin/appliance" backup --out "$backup"
  echo "$backup" > "$PREFIX/previous.backup"
  switch_to previous "$old"
  switch_to current "$rel"
  own_state
  install_units
  services start
  if healthy; then
    say "upgraded $(basename "$old") -> $(basename "$rel")"
  else
    say "the new release is not healthy after ${HEALTH_TIMEOUT}s: rolling back"
    cmd_rollback
    die "upgrade failed and was rolled back; see journalctl -u appliance-server"
  fi
}

schema_of() {  # schema_of RELEASE KEY -> a number from `appliance version --json`
  "$1/venv/bin/appliance" version --json | python3 -c "import json,sys; v=json.load(sys.stdin).get('$2'); print(v if v is not None else 0)"
}

cmd_rollback() {
  [ -L "$PREFIX/previous" ] || die "no previous release to roll back to"
  local cur prev
  cur=$(readlink -f "$PREFIX/current")
  prev=$(readlink -f "$PREFIX/previous")
  services stop
  if [ "$(schema_of "$cur" db_schema)" -gt "$(schema_of "$prev" schema)" ]; then
    local backup
    backup=$(cat "$PREFIX/previous.backup" 2>/dev/null || true)
    [ -f "$backup" ] || die "the database schema is newer than $(basename "$prev") knows and no pre-upgrade backup is recorded"
    say "database schema is newer than $(basename "$prev") knows: restoring $backup"
    "$prev/venv/bin/appliance" restore --force "$backup"
  fi
  switch_to current "$prev"
  switch_to previous "$cur"
  own_state
  services start
  say "rolled back to $(basename "$prev")"
}

cmd_status() {
  local l
  for l in current previous; do
    [ -L "$PREFIX/$l" ] && say "$l: $(basename "$(readlink -f "$PREFIX/$l")")"
  done
  [ -L "$PREFIX/current" ] && "$PREFIX/current/venv/bin/appliance" version
  [ "$SYSTEMD" = 1 ] && systemctl --no-pager status appliance.target || true
}

case "$ACTION" in
  install) cmd_install ;;
  upgrade) cmd_upgrade ;;
  rollback) cmd_rollback ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|upgrade|rollback|status [options]  (see the header of this file)" >&2; exit 2 ;;
esac
