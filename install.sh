#!/usr/bin/env bash
# Installs kuota from this checkout on Ubuntu 20.04/22.04/24.04 or Debian 12 (run as root).
# Every step prints one progress line and, where it writes a file, whether the file changed:
# a second run with the same checkout changes nothing and says "unchanged".
set -euo pipefail

PREFIX=/opt/kuota
WRAPPER=/usr/local/bin/kuota
ENV_DIR=/etc/kuota
ENV_FILE=$ENV_DIR/kuota.env
DATA_DIR=/etc/myvpn
STATE_DIR=/var/lib/kuota
BOT_STATE_DIR=/var/lib/kuota-bot
# The build happens here, not in the checkout: the checkout keeps no root-owned files, and the
# fixed path lets a second run reuse node_modules when package-lock.json has not changed.
BUILD_CACHE=/var/cache/kuota
UNIT_DIR=/etc/systemd/system
LOGROTATE_FILE=/etc/logrotate.d/kuota
UNITS=(kuota-worker.service kuota-bot.service)
RUNTIME_PACKAGES=(nftables tcpdump iproute2 procps psmisc passwd cron conntrack logrotate)
SERVICE_USER=kuota

SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  cat <<'EOF'
Usage: sudo ./install.sh [--no-start] [--foreground] [--force]
       sudo ./install.sh --uninstall [--purge]

Installs kuota from this checkout: Debian packages it needs, a build in /var/cache/kuota,
/opt/kuota, the `kuota` command (/usr/local/bin/kuota), the `kuota` system user for the bot,
/etc/kuota/kuota.env (from .env.example, only when absent), systemd units and logrotate rules.
With systemd running it enables and starts kuota-worker (and kuota-bot when BOT_TOKEN is set
in /etc/kuota/kuota.env). Running it again changes nothing unless the checkout changed.

Options:
  --no-start     install everything but start and restart nothing
  --foreground   where systemd is not running: run the worker in the foreground at the end
  --force        install on an OS other than Ubuntu 20.04/22.04/24.04 or Debian 12
  --uninstall    remove /opt/kuota, the command, the units, the logrotate rules, the build cache
                 and the kuota user; keep /etc/myvpn, /etc/kuota and the database
  --purge        with --uninstall: also remove /etc/myvpn, /etc/kuota, /var/lib/kuota and
                 /var/lib/kuota-bot (usage, logs, database: this cannot be undone)
  -h, --help     this text

Exit codes: 0 done, 1 failed, 2 wrong usage.

Examples:
  sudo ./install.sh
  sudo ./install.sh --uninstall
EOF
}

# --- output --------------------------------------------------------------------------------
step() { printf '== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$1" >&2
  [ $# -lt 2 ] || printf '   next: %s\n' "$2" >&2
  exit 1
}

# --- arguments -----------------------------------------------------------------------------
START=1
FOREGROUND=0
FORCE=0
UNINSTALL=0
PURGE=0
for arg in "$@"; do
  case "$arg" in
    --no-start) START=0 ;;
    --foreground) FOREGROUND=1 ;;
    --force) FORCE=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      printf 'install.sh: unknown option "%s"; see ./install.sh --help\n' "$arg" >&2
      exit 2
      ;;
  esac
done
if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then
  printf 'install.sh: --purge only goes with --uninstall; see ./install.sh --help\n' >&2
  exit 2
fi
[ "$(id -u)" -eq 0 ] || die "install.sh must run as root" "sudo ./install.sh $*"

systemd_running() { [ -d /run/systemd/system ]; }

# --- files: replace only what differs ------------------------------------------------------
# put_file SRC DEST MODE OWNER:GROUP — installs SRC unless DEST already has the same content;
# mode and owner are put right either way.
put_file() {
  local src=$1 dest=$2 mode=$3 owner=$4
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    say "$dest: unchanged"
  else
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest.kuota-new"
    mv -f "$dest.kuota-new" "$dest"
    say "$dest: written"
    CHANGED=1
  fi
  chmod "$mode" "$dest"
  chown "$owner" "$dest"
}

# put_tree SRC DEST — replaces the directory DEST with a copy of SRC unless both hold the same
# files with the same contents (symlinks compared as links). The new copy is made beside DEST
# and swapped in, so a failed copy leaves the old tree in place.
put_tree() {
  local src=$1 dest=$2
  if [ -d "$dest" ] && diff -rq --no-dereference "$src" "$dest" >/dev/null 2>&1; then
    say "$dest: unchanged"
    return
  fi
  rm -rf "$dest.kuota-new"
  cp -a "$src" "$dest.kuota-new"
  chown -R root:root "$dest.kuota-new"
  rm -rf "$dest"
  mv "$dest.kuota-new" "$dest"
  say "$dest: written"
  CHANGED=1
}

# ensure_dir DIR MODE OWNER:GROUP
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [ -d "$dir" ]; then
    say "$dir: present"
  else
    say "$dir: created"
  fi
  install -d -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$dir"
}

# --- checks ----------------------------------------------------------------------------------
check_os() {
  step "checking the operating system"
  local id="" version="" pretty="unknown"
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    id=$(. /etc/os-release && printf '%s' "${ID:-}")
    version=$(. /etc/os-release && printf '%s' "${VERSION_ID:-}")
    pretty=$(. /etc/os-release && printf '%s' "${PRETTY_NAME:-$id $version}")
  fi
  case "$id:$version" in
    ubuntu:20.04 | ubuntu:22.04 | ubuntu:24.04 | debian:12)
      say "$pretty: supported"
      ;;
    *)
      if [ "$FORCE" = 1 ]; then
        say "$pretty: not tested, going on because of --force"
      else
        die "$pretty is not supported (Ubuntu 20.04, 22.04, 24.04 and Debian 12 are)" \
          "run ./install.sh --force to try anyway"
      fi
      ;;
  esac
  command -v apt-get >/dev/null || die "apt-get not found: kuota installs on Debian and Ubuntu"
}

node_major() {
  local v
  v=$(node -p 'process.versions.node' 2>/dev/null) || {
    echo 0
    return
  }
  echo "${v%%.*}"
}

# Major version of the distribution's nodejs package, 0 when it has none.
distro_node_major() {
  local candidate
  candidate=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  case "$candidate" in
    "" | "(none)") echo 0 ;;
    *)
      candidate=${candidate#*:}
      echo "${candidate%%.*}"
      ;;
  esac
}

node_instructions() {
  cat >&2 <<'EOF'
   Node.js 20 or newer is needed and this distribution does not offer it. Install it from
   NodeSource, then run ./install.sh again:

     curl -fsSL https://deb.nodesource.com/setup_20.x -o /tmp/nodesource_setup.sh
     sudo bash /tmp/nodesource_setup.sh
     sudo apt-get install -y nodejs
EOF
}

check_node() {
  step "checking Node.js (20 or newer) and npm"
  local major
  major=$(node_major)
  if [ "$major" -lt 20 ]; then
    if [ "$major" -gt 0 ]; then say "node $(node -v) is too old"; else say "node not found"; fi
    apt_update_once
    if [ "$(distro_node_major)" -ge 20 ]; then
      say "installing nodejs and npm from the distribution"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
      major=$(node_major)
    fi
  fi
  if [ "$major" -lt 20 ]; then
    node_instructions
    exit 1
  fi
  say "node $(node -v): ok"
  if ! command -v npm >/dev/null; then
    printf 'install.sh: npm not found (node %s is installed without it)\n' "$(node -v)" >&2
    printf '   next: install npm for this node (NodeSource nodejs includes it), then run again\n' >&2
    exit 1
  fi
  say "npm $(npm -v): ok"
}

APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 0 ] || return 0
  say "apt-get update"
  apt-get update -qq
  APT_UPDATED=1
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_packages() {
  step "installing Debian packages: ${RUNTIME_PACKAGES[*]}"
  local missing=() p
  for p in "${RUNTIME_PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
  # better-sqlite3 compiles itself when no prebuilt binary can be downloaded for this Node.
  command -v make >/dev/null || missing+=(make)
  command -v g++ >/dev/null || missing+=(g++)
  command -v python3 >/dev/null || missing+=(python3)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "all present: unchanged"
    return
  fi
  apt_update_once
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
}

# --- build -----------------------------------------------------------------------------------
# Sources are copied into $BUILD_CACHE/build; node_modules there is kept between runs and
# reinstalled (npm ci) only when package.json or package-lock.json changed. The TypeScript build
# runs every time (seconds) and is deterministic, so an unchanged checkout installs nothing new.
# $BUILD_CACHE/runtime holds the same node_modules without the dev dependencies.
build() {
  step "building in $BUILD_CACHE"
  local build=$BUILD_CACHE/build runtime=$BUILD_CACHE/runtime stamp
  [ -f "$SOURCE/package-lock.json" ] || die "$SOURCE/package-lock.json is missing" \
    "run install.sh from a kuota checkout"
  mkdir -p "$build" "$runtime"
  rm -rf "$build/src" "$build/locales" "$build/dist"
  cp -a "$SOURCE/src" "$build/"
  # The bot's translations; a checkout without them still installs the worker and the CLI.
  if [ -d "$SOURCE/locales" ]; then cp -a "$SOURCE/locales" "$build/"; else mkdir "$build/locales"; fi
  cp -a "$SOURCE/package.json" "$SOURCE/package-lock.json" "$SOURCE/tsconfig.json" \
    "$SOURCE/tsconfig.build.json" "$SOURCE/README.md" "$build/"
  stamp=$(cat "$build/package.json" "$build/package-lock.json" | sha256sum | cut -d' ' -f1)
  stamp="$stamp node $(node -v)"

  if [ -d "$build/node_modules" ] && [ "$(cat "$build/.deps-stamp" 2>/dev/null)" = "$stamp" ]; then
    say "dependencies: unchanged (package-lock.json as in the last build)"
  else
    say "npm ci (a few minutes when better-sqlite3 has to compile)"
    rm -f "$build/.deps-stamp"
    (cd "$build" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
      die "npm ci failed" "see the lines above; the npm registry must be reachable"
    printf '%s\n' "$stamp" >"$build/.deps-stamp"
  fi

  say "npm run build"
  (cd "$build" && npm run --silent build) || die "the TypeScript build failed"

  if [ -d "$runtime/node_modules" ] && [ "$(cat "$runtime/.deps-stamp" 2>/dev/null)" = "$stamp" ]; then
    say "runtime dependencies: unchanged"
  else
    say "npm prune --omit=dev"
    rm -rf "$runtime"
    mkdir -p "$runtime"
    cp -a "$build/package.json" "$build/package-lock.json" "$build/node_modules" "$runtime/"
    (cd "$runtime" && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null) ||
      die "npm prune failed"
    # Compiler leftovers that name the build folder; only build/Release/*.node is loaded.
    rm -rf "$runtime/node_modules/better-sqlite3/build/Release/obj" \
      "$runtime/node_modules/better-sqlite3/build/Release/obj.target" \
      "$runtime/node_modules/better-sqlite3/build/Release/.deps"
    printf '%s\n' "$stamp" >"$runtime/.deps-stamp"
  fi
}

# --- install ---------------------------------------------------------------------------------
install_files() {
  step "installing to $PREFIX"
  ensure_dir "$PREFIX" 0755 root:root
  put_tree "$BUILD_CACHE/build/dist" "$PREFIX/dist"
  put_tree "$BUILD_CACHE/runtime/node_modules" "$PREFIX/node_modules"
  put_tree "$BUILD_CACHE/build/locales" "$PREFIX/locales"
  put_file "$BUILD_CACHE/build/package.json" "$PREFIX/package.json" 0644 root:root
  put_file "$BUILD_CACHE/build/README.md" "$PREFIX/README.md" 0644 root:root

  step "installing the kuota command ($WRAPPER)"
  local tmp
  tmp=$(mktemp)
  printf '#!/bin/sh\n# Installed by kuota install.sh.\nexec node %s/dist/src/cli/main.js "$@"\n' \
    "$PREFIX" >"$tmp"
  put_file "$tmp" "$WRAPPER" 0755 root:root
  rm -f "$tmp"
}

create_user() {
  step "creating the $SERVICE_USER system user (the bot runs as it)"
  if getent passwd "$SERVICE_USER" >/dev/null; then
    say "$SERVICE_USER: present"
  else
    # A system user (uid below 1000) with no login: kuota never adopts or manages it.
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "kuota bot" "$SERVICE_USER"
    say "$SERVICE_USER: created (uid $(id -u "$SERVICE_USER"))"
    CHANGED=1
  fi
}

write_config() {
  step "writing configuration and data folders"
  ensure_dir "$ENV_DIR" 0755 root:root
  if [ -e "$ENV_FILE" ]; then
    say "$ENV_FILE: kept (never overwritten)"
  else
    install -m 0640 -o root -g "$SERVICE_USER" "$SOURCE/.env.example" "$ENV_FILE"
    say "$ENV_FILE: written from .env.example"
    CHANGED=1
  fi
  # Readable by the bot (group), never by others: it holds BOT_TOKEN.
  chown "root:$SERVICE_USER" "$ENV_FILE"
  chmod 0640 "$ENV_FILE"
  ensure_dir "$DATA_DIR" 0755 root:root
  ensure_dir "$STATE_DIR" 0750 root:root
  ensure_dir "$BOT_STATE_DIR" 0750 "$SERVICE_USER:$SERVICE_USER"
}

install_units() {
  step "installing systemd units and logrotate rules"
  local unit
  for unit in "${UNITS[@]}"; do
    put_file "$SOURCE/systemd/$unit" "$UNIT_DIR/$unit" 0644 root:root
  done
  put_file "$SOURCE/logrotate/kuota" "$LOGROTATE_FILE" 0644 root:root
}

# BOT_TOKEN=... in the env file, not empty and not commented out.
bot_token_set() {
  grep -Eq '^[[:space:]]*BOT_TOKEN[[:space:]]*=[[:space:]]*[^[:space:]#]' "$ENV_FILE"
}

start_services() {
  step "starting"
  if [ "$START" = 0 ]; then
    say "--no-start: nothing started or restarted"
    return
  fi
  if ! systemd_running; then
    say "systemd is not running here (a container?): the units are installed but not started."
    if [ "$FOREGROUND" = 1 ]; then
      say "starting the worker in the foreground (--foreground); stop it with Ctrl-C"
      exec "$WRAPPER" worker
    fi
    say "run the worker in the foreground with:  kuota worker"
    say "or in the background with:  nohup kuota worker >>/var/log/kuota-worker.log 2>&1 &"
    return
  fi
  systemctl daemon-reload
  systemctl enable --now kuota-worker.service >/dev/null 2>&1 ||
    die "kuota-worker did not start" "journalctl -u kuota-worker -n 50"
  if [ "$CHANGED" = 1 ]; then
    systemctl restart kuota-worker.service
    say "kuota-worker: enabled, restarted (files changed)"
  else
    say "kuota-worker: enabled, running"
  fi
  if bot_token_set; then
    systemctl enable --now kuota-bot.service >/dev/null 2>&1 ||
      die "kuota-bot did not start" "journalctl -u kuota-bot -n 50"
    [ "$CHANGED" = 0 ] || systemctl restart kuota-bot.service
    say "kuota-bot: enabled, running"
  else
    say "kuota-bot: not started (set BOT_TOKEN in $ENV_FILE, then run ./install.sh again)"
  fi
}

# --- uninstall -------------------------------------------------------------------------------
remove() {
  local path
  for path in "$@"; do
    if [ -e "$path" ] || [ -L "$path" ]; then
      rm -rf "$path"
      say "$path: removed"
    fi
  done
}

uninstall() {
  step "uninstalling kuota"
  local unit
  if systemd_running; then
    for unit in "${UNITS[@]}"; do
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
  for unit in "${UNITS[@]}"; do remove "$UNIT_DIR/$unit"; done
  ! systemd_running || systemctl daemon-reload
  remove "$LOGROTATE_FILE" "$WRAPPER" "$PREFIX" "$BUILD_CACHE"
  if getent passwd "$SERVICE_USER" >/dev/null; then
    userdel "$SERVICE_USER"
    say "user $SERVICE_USER: removed"
  fi
  if getent group "$SERVICE_USER" >/dev/null; then groupdel "$SERVICE_USER"; fi
  if [ "$PURGE" = 1 ]; then
    step "purging configuration, usage and the database (--purge)"
    remove "$ENV_DIR" "$DATA_DIR" "$STATE_DIR" "$BOT_STATE_DIR"
  else
    say "kept: $DATA_DIR, $ENV_DIR, $STATE_DIR, $BOT_STATE_DIR (remove them with --purge)"
  fi
  step "done"
}

# --- main ------------------------------------------------------------------------------------
if [ "$UNINSTALL" = 1 ]; then
  uninstall
  exit 0
fi

CHANGED=0
check_os
check_node
install_packages
build
install_files
create_user
write_config
install_units
start_services
if [ "$CHANGED" = 1 ]; then step "done: kuota installed"; else step "done: unchanged"; fi
