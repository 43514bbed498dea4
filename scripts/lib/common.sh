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

# phase NAME COMMAND... — run COMMAND, log its duration and, when PHASE_LOG names a file,
# append one line "NAME<TAB>start<TAB>end<TAB>cpu" to it: start and end in seconds since
# PHASE_T0 (an EPOCHREALTIME value; both exported by the caller), cpu the user+system seconds
# of the processes COMMAND ran. Appends are single short writes, so phases running
# concurrently in background jobs can share one log. Not `COMMAND || ...`: that would switch
# errexit off inside COMMAND. A failing COMMAND ends the (sub)shell under errexit, so only
# phases that succeeded are recorded; otherwise returns COMMAND's status.
phase() {
  local name="$1" shell="${BASHPID}" started ended cpu
  shift
  started="${EPOCHREALTIME}"
  cpu="$(children_cpu "${shell}")"
  "$@"
  local status=$?
  ended="${EPOCHREALTIME}"
  cpu="$(awk -v a="${cpu}" -v b="$(children_cpu "${shell}")" 'BEGIN { printf "%.1f", b - a }')"
  log "${name}: $(awk -v a="${started}" -v b="${ended}" 'BEGIN { printf "%.1f", b - a }') s (cpu ${cpu} s)"
  if [[ -n "${PHASE_LOG:-}" ]]; then
    printf '%s\t%s\t%s\t%s\n' "${name}" "$(elapsed_since "${started}")" "$(elapsed_since "${ended}")" "${cpu}" \
      >>"${PHASE_LOG}"
  fi
  return "${status}"
}

# children_cpu PID — user+system CPU seconds of the processes that the (sub)shell PID has waited
# for, recursively (cutime+cstime of /proc/PID/stat, fields 16 and 17; proc(5)). 0 without /proc.
# PID is passed in (from BASHPID) because `$(children_cpu)` would run in a subshell of its own.
children_cpu() {
  local stat fields
  if ! read -r stat 2>/dev/null <"/proc/$1/stat"; then
    printf '0\n'
    return
  fi
  read -ra fields <<<"${stat##*) }" # from field 3 on: the command name may hold spaces
  awk -v u="${fields[13]}" -v s="${fields[14]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (u + s) / hz }'
}

# elapsed_since EPOCH — EPOCH (an EPOCHREALTIME value) as seconds after PHASE_T0, one decimal.
elapsed_since() {
  awk -v t="$1" -v t0="${PHASE_T0:-$1}" 'BEGIN { printf "%.1f", t - t0 }'
}

# phase_table — the phases of PHASE_LOG as a table on stderr, in start order: start, end and
# duration in seconds since PHASE_T0, and CPU seconds; concurrent phases overlap in the start/
# end columns. The total row: wall time to the last end, CPU of everything this shell waited for.
phase_table() {
  local shell="${BASHPID}" cpu
  [[ -s "${PHASE_LOG:-}" ]] || return 0
  cpu="$(children_cpu "${shell}")"
  sort -t $'\t' -k2,2n -k1,1 "${PHASE_LOG}" |
    awk -F '\t' -v prefix="${LOG_PREFIX:-${0##*/}}" -v cpu="${cpu}" '
      BEGIN { printf "%s: %-30s %8s %8s %8s %8s\n", prefix, "phase", "start s", "end s", "took s", "cpu s" }
      { printf "%s: %-30s %8.1f %8.1f %8.1f %8.1f\n", prefix, $1, $2, $3, $3 - $2, $4; if ($3 > last) last = $3 }
      END { printf "%s: %-30s %8s %8.1f %8.1f %8.1f\n", prefix, "total", "", last, last, cpu }' >&2
}

# wait_jobs PID... — wait for every background job PID; false when any failed (after all ended).
wait_jobs() {
  local pid status=0
  for pid in "$@"; do
    wait "${pid}" || status=1
  done
  return "${status}"
}
