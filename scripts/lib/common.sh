# shellcheck shell=bash
# Shared helpers for scripts/*.sh: logging, hashing and stamp files.
# Source it; it defines functions only and changes no shell options.

# log MESSAGE... — one progress line on stderr, prefixed with the calling script's name.
log() {
  printf '%s: %s\n' "${LOG_PREFIX:-${0##*/}}" "$*" >&2
}

# die MESSAGE... — log and exit 1.
die() {
  log "error: $*"
  exit 1
}

# have COMMAND — true when COMMAND is on PATH.
have() {
  command -v "$1" >/dev/null 2>&1
}

# hash_of ITEM... — one sha256 over the given files (by content) and literal strings
# (anything that is not a readable file). Order matters. Prints 64 hex characters.
hash_of() {
  local item
  for item in "$@"; do
    if [[ -f "${item}" ]]; then
      printf 'file:%s\n' "${item##*/}"
      sha256sum <"${item}"
    else
      printf 'text:%s\n' "${item}"
    fi
  done | sha256sum | cut -d' ' -f1
}

# stamp_ok DIR NAME KEY — true when stamp DIR/NAME.stamp holds exactly KEY.
stamp_ok() {
  local file="$1/$2.stamp"
  [[ -f "${file}" ]] && [[ "$(<"${file}")" == "$3" ]]
}

# stamp_write DIR NAME KEY — record KEY as the state of step NAME.
stamp_write() {
  mkdir -p "$1"
  printf '%s\n' "$3" >"$1/$2.stamp.tmp"
  mv -f "$1/$2.stamp.tmp" "$1/$2.stamp"
}

# as_root COMMAND... — run COMMAND as root (directly when already root, else through sudo).
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif have sudo; then
    sudo -n "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}
