#!/usr/bin/env bash
# Probe suite: checks a freshly booted test instance of a candidate image.
#
# The pipeline runs it as root on the test instance: on AWS through SSM Run Command
# (AWS-RunShellScript), locally through the qemu guest agent (guest-exec).
#
# Usage: probe.sh [--backend aws|local] [--list] [--help]
#   --backend  pipeline backend; detected from DMI (EC2 or not) when omitted
#   --list     print the names of the checks for the backend, one per line, and exit 0
#
# Output: one JSON object per check and line on stdout, in a fixed order:
#   {"check":"<name>","ok":true|false,"detail":"<text>"}
# Every check runs and reports even when another fails.
# Exit status: 0 when every check passed, 1 when any failed, 2 on a usage error.
#
# Environment (tuning, optional):
#   PROBE_HEALTH_URL        health endpoint (default http://127.0.0.1/health)
#   PROBE_HEALTH_BODY       expected body, whitespace trimmed (default ok)
#   PROBE_CLOUD_INIT_WAIT   seconds to wait for cloud-init to finish (default 300)
#   PROBE_HTTP_TIMEOUT      seconds per HTTP request (default 5)
set -o nounset -o errexit -o pipefail

readonly IMDS_URL='http://169.254.169.254/latest/meta-data/'
health_url="${PROBE_HEALTH_URL:-http://127.0.0.1/health}"
health_body="${PROBE_HEALTH_BODY:-ok}"
cloud_init_wait="${PROBE_CLOUD_INIT_WAIT:-300}"
http_timeout="${PROBE_HTTP_TIMEOUT:-5}"

usage() {
  sed -n '2,/^set -o/{/^set -o/d;s/^# \{0,1\}//;p}' "$0"
}

# --- helpers ---------------------------------------------------------------

# json_string TEXT: TEXT as a JSON string literal (quotes, backslashes, control characters escaped).
json_string() {
  local text="$1" out='' char code i
  for ((i = 0; i < ${#text}; i++)); do
    char="${text:i:1}"
    case "${char}" in
      '"') out+='\"' ;;
      "\\") out+="\\\\" ;;
      $'\n') out+='\n' ;;
      $'\r') out+='\r' ;;
      $'\t') out+='\t' ;;
      *)
        printf -v code '%d' "'${char}"
        if ((code >= 0 && code < 32)); then
          printf -v char '\\u%04x' "${code}"
        fi
        out+="${char}"
        ;;
    esac
  done
  printf '"%s"' "${out}"
}

# boot_time: seconds since the epoch at which the kernel booted (/proc/stat btime).
boot_time() {
  awk '$1 == "btime" { print $2; found = 1 } END { exit !found }' /proc/stat
}

# mtime FILE: modification time of FILE in seconds since the epoch.
mtime() {
  stat -c '%Y' -- "$1"
}

# unit_active UNIT...: succeeds when any of the units is active; prints the active one.
unit_active() {
  local unit
  for unit in "$@"; do
    if systemctl is-active --quiet "${unit}" 2>/dev/null; then
      printf '%s' "${unit}"
      return 0
    fi
  done
  return 1
}

# http_get URL: prints "<status> <body>" for a GET of URL (curl, else wget, else bash /dev/tcp).
http_get() {
  local url="$1" body status
  if command -v curl >/dev/null 2>&1; then
    body="$(mktemp)"
    status="$(curl --silent --show-error --max-time "${http_timeout}" --output "${body}" \
      --write-out '%{http_code}' "${url}" 2>/dev/null)" || true
    printf '%s %s' "${status}" "$(head -c 200 "${body}")"
    rm -f "${body}"
  elif command -v wget >/dev/null 2>&1; then
    # wget prints the response headers on stderr with --server-response.
    local headers
    headers="$(mktemp)"
    body="$(wget --quiet --server-response --timeout="${http_timeout}" --tries=1 \
      --output-document=- "${url}" 2>"${headers}" | head -c 200)" || true
    status="$(awk '/^  HTTP\// { code = $2 } END { print code + 0 }' "${headers}")"
    rm -f "${headers}"
    printf '%s %s' "${status}" "${body}"
  else
    http_get_dev_tcp "${url}"
  fi
}

# http_get_dev_tcp URL: HTTP/1.0 GET over bash's /dev/tcp (http:// URLs only).
http_get_dev_tcp() {
  local url="$1" rest host port path response status
  rest="${url#http://}"
  host="${rest%%/*}"
  path="/${rest#*/}"
  [[ "${rest}" == */* ]] || path='/'
  port=80
  if [[ "${host}" == *:* ]]; then
    port="${host##*:}"
    host="${host%:*}"
  fi
  # shellcheck disable=SC2016 # the inner script expands its own positional parameters
  response="$(timeout "${http_timeout}" bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1" >&3
    cat <&3' _ "${host}" "${port}" "${path}" 2>/dev/null)" || true
  status="$(printf '%s' "${response}" | awk 'NR == 1 { print $2 + 0 }')"
  printf '%s %s' "${status:-0}" "${response#*$'\r\n\r\n'}"
}

# --- checks ----------------------------------------------------------------
# Each check prints a one-line detail and returns 0 (pass) or 1 (fail).

check_service_ssh() {
  local unit
  # Ubuntu 24.04 starts ssh.service on the first connection to ssh.socket.
  if unit="$(unit_active ssh.service sshd.service ssh.socket sshd.socket)"; then
    echo "${unit} active"
  else
    echo 'none of ssh.service, sshd.service, ssh.socket, sshd.socket is active'
    return 1
  fi
}

check_service_nginx() {
  if unit_active nginx.service >/dev/null; then
    echo 'nginx.service active'
  else
    echo "nginx.service $(systemctl is-active nginx.service 2>/dev/null || true)"
    return 1
  fi
}

check_service_time_sync() {
  local unit
  if unit="$(unit_active chrony.service chronyd.service systemd-timesyncd.service)"; then
    echo "${unit} active"
  else
    echo 'none of chrony.service, chronyd.service, systemd-timesyncd.service is active'
    return 1
  fi
}

check_service_ssm_agent() {
  local unit
  if unit="$(unit_active amazon-ssm-agent.service snap.amazon-ssm-agent.amazon-ssm-agent.service)"; then
    echo "${unit} active"
  else
    echo 'neither amazon-ssm-agent.service nor snap.amazon-ssm-agent.amazon-ssm-agent.service is active'
    return 1
  fi
}

check_service_guest_agent() {
  if unit_active qemu-guest-agent.service >/dev/null; then
    echo 'qemu-guest-agent.service active'
  else
    echo "qemu-guest-agent.service $(systemctl is-active qemu-guest-agent.service 2>/dev/null || true)"
    return 1
  fi
}

check_health_endpoint() {
  local reply status body
  reply="$(http_get "${health_url}")"
  status="${reply%% *}"
  body="${reply#* }"
  # Trim surrounding whitespace (the endpoint appends a newline).
  body="${body#"${body%%[![:space:]]*}"}"
  body="${body%"${body##*[![:space:]]}"}"
  if [[ "${status}" == 200 && "${body}" == "${health_body}" ]]; then
    echo "GET ${health_url} -> 200 '${body}'"
  else
    echo "GET ${health_url} -> ${status:-no answer} '${body:0:80}', expected 200 '${health_body}'"
    return 1
  fi
}

# systemd writes /etc/machine-id at the first boot of an image whose machine-id was emptied
# (pid 1 generates it, systemd-machine-id-commit.service persists it), so a file older than
# this boot means the image was baked with an identity.
check_machine_id() {
  local id btime written
  if [[ ! -s /etc/machine-id ]]; then
    echo '/etc/machine-id is missing or empty'
    return 1
  fi
  id="$(head -c 64 /etc/machine-id | tr -d '[:space:]')"
  if [[ ! "${id}" =~ ^[0-9a-f]{32}$ ]]; then
    echo "/etc/machine-id holds '${id:0:40}', not a 32-hex-digit id"
    return 1
  fi
  btime="$(boot_time)"
  written="$(mtime /etc/machine-id)"
  if ((written >= btime)); then
    echo "${id} written $((written - btime))s after boot"
  else
    echo "${id} written $((btime - written))s before this boot (baked into the image)"
    return 1
  fi
}

# cloud-init (Debian, Ubuntu) or sshd-keygen (Amazon Linux) generates host keys at first boot.
check_ssh_host_keys() {
  local btime key old=() count=0
  btime="$(boot_time)"
  for key in /etc/ssh/ssh_host_*_key; do
    [[ -e "${key}" ]] || continue
    count=$((count + 1))
    if (($(mtime "${key}") < btime)); then
      old+=("${key}")
    fi
  done
  if ((count == 0)); then
    echo 'no /etc/ssh/ssh_host_*_key files'
    return 1
  fi
  if ((${#old[@]} > 0)); then
    echo "written before this boot: ${old[*]}"
    return 1
  fi
  echo "${count} host keys written at this boot"
}

# Every authorized_keys file must have been written at or after this boot (the launch key,
# installed by cloud-init); one older than the boot was baked into the image.
check_authorized_keys() {
  local btime home file found=() old=() unreadable=()
  btime="$(boot_time)"
  while IFS=: read -r _ _ _ _ _ home _; do
    [[ -n "${home}" && -d "${home}" ]] || continue
    if [[ -d "${home}/.ssh" && ! -x "${home}/.ssh" ]]; then
      unreadable+=("${home}/.ssh")
      continue
    fi
    for file in "${home}/.ssh/authorized_keys" "${home}/.ssh/authorized_keys2"; do
      [[ -e "${file}" ]] || continue
      found+=("${file}")
      if (($(mtime "${file}") < btime)); then
        old+=("${file}")
      fi
    done
  done < <(getent passwd | sort -t: -k6,6 -u)
  if ((${#unreadable[@]} > 0)); then
    echo "cannot search ${unreadable[*]} (run as root)"
    return 1
  fi
  if ((${#old[@]} > 0)); then
    echo "written before this boot (baked): ${old[*]}"
    return 1
  fi
  if ((${#found[@]} == 0)); then
    echo 'no authorized_keys files'
  else
    echo "written at this boot: ${found[*]}"
  fi
}

check_cloud_init() {
  local json status errors summary
  if ! command -v cloud-init >/dev/null 2>&1; then
    echo 'cloud-init is not installed'
    return 1
  fi
  # Bounded wait: the probe may start while cloud-init's final stage is still running.
  timeout "${cloud_init_wait}" cloud-init status --wait >/dev/null 2>&1 || true
  json="$(cloud-init status --format json 2>/dev/null)" || true
  if [[ "${json}" == '{'* ]] && command -v python3 >/dev/null 2>&1; then
    summary="$(printf '%s' "${json}" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
errors = doc.get("errors") or []
recoverable = doc.get("recoverable_errors") or {}
print(doc.get("status", "unknown"))
print(len(errors))
print("; ".join(str(e) for e in errors)[:300] or "-")
print(sum(len(v) for v in recoverable.values()) if isinstance(recoverable, dict) else 0)
')" || summary=''
    if [[ -n "${summary}" ]]; then
      local lines
      mapfile -t lines <<<"${summary}"
      status="${lines[0]}"
      errors="${lines[1]}"
      if [[ "${status}" == "done" && "${errors}" == 0 ]]; then
        echo "status done, no errors (${lines[3]} recoverable warnings)"
        return 0
      fi
      echo "status ${status}, ${errors} errors: ${lines[2]}"
      return 1
    fi
  fi
  # Older cloud-init without --format json: read "status: done" from --long.
  summary="$(cloud-init status --long 2>&1)" || true
  status="$(printf '%s\n' "${summary}" | awk -F': ' '$1 == "status" { print $2; exit }')"
  if [[ "${status}" == "done" ]] && ! printf '%s\n' "${summary}" | grep -qiE '^errors?: *\[?[^] ]'; then
    echo 'status done, no errors'
  else
    echo "status ${status:-unknown}: $(printf '%s' "${summary}" | tr '\n' ' ' | head -c 300)"
    return 1
  fi
}

# With IMDSv2 required, a request without a session token is refused with 401.
check_imdsv1_refused() {
  local reply status
  reply="$(http_get "${IMDS_URL}")"
  status="${reply%% *}"
  if [[ "${status}" == 401 ]]; then
    echo "token-less GET ${IMDS_URL} -> 401"
  else
    echo "token-less GET ${IMDS_URL} -> ${status:-no answer}, expected 401 (IMDSv1 must be disabled)"
    return 1
  fi
}

# --- suite -----------------------------------------------------------------

detect_backend() {
  local file
  for file in /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/bios_vendor /sys/hypervisor/uuid; do
    if [[ -r "${file}" ]] && grep -qiE '^(amazon ec2|ec2)' "${file}"; then
      echo aws
      return 0
    fi
  done
  echo local
}

# checks BACKEND: the check names for BACKEND, in order.
checks() {
  local common=(service-ssh service-nginx service-time-sync)
  local identity=(health-endpoint machine-id ssh-host-keys authorized-keys cloud-init)
  if [[ "$1" == aws ]]; then
    printf '%s\n' "${common[@]}" service-ssm-agent "${identity[@]}" imdsv1-refused
  else
    printf '%s\n' "${common[@]}" service-guest-agent "${identity[@]}"
  fi
}

run_check() {
  local name="$1" detail ok
  if detail="$("check_${name//-/_}" 2>&1)"; then ok=true; else ok=false; fi
  detail="${detail//$'\n'/ }"
  printf '{"check":%s,"ok":%s,"detail":%s}\n' "$(json_string "${name}")" "${ok}" "$(json_string "${detail}")"
  [[ "${ok}" == true ]]
}

main() {
  local backend='' list=false name names failed=0
  while (($# > 0)); do
    case "$1" in
      --backend)
        (($# >= 2)) || { echo 'probe.sh: --backend needs aws or local' >&2; return 2; }
        backend="$2"
        shift 2
        ;;
      --backend=*) backend="${1#--backend=}"; shift ;;
      --list) list=true; shift ;;
      -h | --help) usage; return 0 ;;
      *) echo "probe.sh: unknown argument $1" >&2; usage >&2; return 2 ;;
    esac
  done
  [[ -n "${backend}" ]] || backend="$(detect_backend)"
  if [[ "${backend}" != aws && "${backend}" != local ]]; then
    echo "probe.sh: --backend must be aws or local, got ${backend}" >&2
    return 2
  fi
  if [[ "${list}" == true ]]; then
    checks "${backend}"
    return 0
  fi
  # The machine may be reachable (SSM Online, guest agent answering) before its first boot has
  # finished: wait, bounded, for cloud-init and systemd to settle so the checks judge the booted
  # machine, not a half-started one. A timeout is not a failure here: the checks report it.
  timeout "${cloud_init_wait}" cloud-init status --wait >/dev/null 2>&1 || true
  timeout "${cloud_init_wait}" systemctl is-system-running --wait >/dev/null 2>&1 || true
  # Names are read up front: a check must not be able to consume the list from stdin.
  mapfile -t names < <(checks "${backend}")
  for name in "${names[@]}"; do
    run_check "${name}" </dev/null || failed=$((failed + 1))
  done
  ((failed == 0)) || return 1
}

main "$@"
