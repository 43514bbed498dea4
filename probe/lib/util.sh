# shellcheck shell=bash
# Helpers shared by the probe runner (probe.sh), the common checks (common.sh) and the drop-in
# kinds (kinds.sh). Sourced, never run; sets no shell options.
#
# Tuning (environment, optional):
#   PROBE_HTTP_TIMEOUT   seconds per HTTP request (default 5)

http_timeout="${PROBE_HTTP_TIMEOUT:-5}"

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

# trim TEXT: TEXT without leading and trailing whitespace.
trim() {
  local text="$1"
  text="${text#"${text%%[![:space:]]*}"}"
  printf '%s' "${text%"${text##*[![:space:]]}"}"
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
# The status is 0 (or empty) when nothing answered; the body is cut at 200 bytes.
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
