# shellcheck shell=bash disable=SC2034 # dropin and dropin_error are read by the sourcing scripts
# Drop-in checks: an image definition's own checks, one small declarative file each
# (probe/checks.d/<definition>/<NN->name.check in the repository, checks.d/ next to probe.sh in
# the image). The format is documented in probe/README.md. Sourced by probe.sh and
# lib/run-check.sh (after lib/util.sh and lib/common.sh); sets no shell options.

# The keys of the drop-in parsed last (parse_dropin), and why it was refused.
declare -gA dropin=()
dropin_error=''

# Keys every kind accepts.
readonly DROPIN_COMMON_KEYS='kind timeout backend'

# kind_required KIND / kind_optional KIND: the kind's own keys (fails for an unknown kind).
kind_required() {
  case "$1" in
    service) echo unit ;;
    port) echo port ;;
    http) echo url ;;
    package) echo package ;;
    command) echo command ;;
    *) return 1 ;;
  esac
}
kind_optional() {
  case "$1" in
    port) echo protocol ;;
    http) echo status body ;;
    *) echo ;;
  esac
}

# dropin_name FILE: the check name: the file name without ".check" and without an ordering
# prefix of digits and "-" (10-service-nginx.check -> service-nginx).
dropin_name() {
  local name="${1##*/}"
  name="${name%.check}"
  if [[ "${name}" =~ ^[0-9]+-(.+)$ ]]; then name="${BASH_REMATCH[1]}"; fi
  printf '%s' "${name}"
}

# parse_dropin FILE: reads FILE into `dropin` (key -> value) and checks names, keys and values.
# Returns 1 with the problem in `dropin_error` when FILE is not a valid drop-in.
parse_dropin() {
  local file="$1" line number=0 key value name kind allowed
  dropin=()
  dropin_error=''
  name="$(dropin_name "${file}")"
  if [[ ! "${name}" =~ ^[a-z][a-z0-9-]{0,62}$ ]]; then
    dropin_error="file name must be [NN-]<name>.check, <name> of a-z, 0-9 and '-' starting with a letter"
    return 1
  fi
  if [[ ! -f "${file}" || ! -r "${file}" ]]; then
    dropin_error="cannot read ${file}"
    return 1
  fi
  while IFS= read -r line || [[ -n "${line}" ]]; do
    number=$((number + 1))
    line="$(trim "${line}")"
    [[ -z "${line}" || "${line}" == '#'* ]] && continue
    if [[ ! "${line}" =~ ^([a-z_]+)[[:space:]]*=(.*)$ ]]; then
      dropin_error="line ${number}: expected key=value, got '${line:0:60}'"
      return 1
    fi
    key="${BASH_REMATCH[1]}"
    value="$(trim "${BASH_REMATCH[2]}")"
    if [[ -v "dropin[${key}]" ]]; then
      dropin_error="line ${number}: ${key} is given twice"
      return 1
    fi
    dropin["${key}"]="${value}"
  done <"${file}"
  kind="${dropin[kind]:-}"
  if [[ -z "${kind}" ]] || ! kind_required "${kind}" >/dev/null; then
    dropin_error="kind must be one of: service, port, http, package, command (got '${kind}')"
    return 1
  fi
  allowed="${DROPIN_COMMON_KEYS} $(kind_required "${kind}") $(kind_optional "${kind}")"
  allowed="$(trim "${allowed}")"
  for key in "${!dropin[@]}"; do
    if [[ " ${allowed} " != *" ${key} "* ]]; then
      dropin_error="unknown key '${key}' for kind ${kind}; expected: ${allowed// /, }"
      return 1
    fi
  done
  for key in $(kind_required "${kind}"); do
    if [[ -z "${dropin[${key}]:-}" ]]; then
      dropin_error="kind ${kind} needs ${key}=…"
      return 1
    fi
  done
  dropin_check_values "${kind}"
}

# dropin_check_values KIND: the value rules of `dropin` (sets dropin_error, returns 1 on a bad one).
dropin_check_values() {
  local problem=''
  if [[ -v 'dropin[timeout]' && ! "${dropin[timeout]}" =~ ^[1-9][0-9]{0,4}$ ]]; then
    problem='timeout must be a whole number of seconds, 1-99999'
  elif [[ -v 'dropin[backend]' && ! "${dropin[backend]}" =~ ^(aws|local)$ ]]; then
    problem='backend must be aws or local'
  fi
  case "$1" in
    service)
      [[ "${dropin[unit]}" =~ ^[A-Za-z0-9@._:\\-]+([[:space:]]+[A-Za-z0-9@._:\\-]+)*$ ]] ||
        problem='unit must be one or more systemd unit names, space-separated'
      ;;
    port)
      if [[ ! "${dropin[port]}" =~ ^[1-9][0-9]{0,4}$ ]] || ((10#${dropin[port]} > 65535)); then
        problem='port must be a number from 1 to 65535'
      elif [[ -v 'dropin[protocol]' && ! "${dropin[protocol]}" =~ ^(tcp|udp)$ ]]; then
        problem='protocol must be tcp or udp'
      fi
      ;;
    http)
      if [[ ! "${dropin[url]}" =~ ^https?://[^[:space:]]+$ ]]; then
        problem='url must be an http:// or https:// URL'
      elif [[ -v 'dropin[status]' && ! "${dropin[status]}" =~ ^[1-5][0-9][0-9]$ ]]; then
        problem='status must be an HTTP status code such as 200'
      fi
      ;;
    package)
      [[ "${dropin[package]}" =~ ^[A-Za-z0-9][A-Za-z0-9.+_-]*$ ]] || problem='package must be a package name'
      ;;
  esac
  if [[ -n "${problem}" ]]; then
    dropin_error="${problem}"
    return 1
  fi
}

# --- kinds -----------------------------------------------------------------------------------
# kind_<kind>: runs the check `dropin` declares; prints a one-line detail, returns 0 or 1.

# service: any of the units is enabled (`systemctl is-enabled` succeeds: enabled, static, alias,
# indirect, generated…) and active.
kind_service() {
  local unit units enabled active states=()
  read -r -a units <<<"${dropin[unit]}"
  for unit in "${units[@]}"; do
    enabled="$(systemctl is-enabled "${unit}" 2>/dev/null)" && systemctl is-active --quiet "${unit}" && {
      echo "${unit} ${enabled}, active"
      return 0
    }
    enabled="$(systemctl is-enabled "${unit}" 2>/dev/null || true)"
    active="$(systemctl is-active "${unit}" 2>/dev/null || true)"
    states+=("${unit} ${enabled:-unknown}, ${active:-unknown}")
  done
  printf 'not enabled and active: %s\n' "$(IFS=';' && echo "${states[*]}")"
  return 1
}

# port: a socket listens on the port, any address (/proc/net: TCP state 0A LISTEN, UDP 07 bound).
kind_port() {
  local port="${dropin[port]}" protocol="${dropin[protocol]:-tcp}" hex state file files=()
  printf -v hex '%04X' "${port}"
  if [[ "${protocol}" == tcp ]]; then state=0A; else state=07; fi
  for file in "/proc/net/${protocol}" "/proc/net/${protocol}6"; do
    [[ -r "${file}" ]] && files+=("${file}")
  done
  if ((${#files[@]} > 0)) && awk -v port="${hex}" -v state="${state}" '
      FNR > 1 { n = split($2, address, ":"); if (address[n] == port && $4 == state) found = 1 }
      END { exit !found }' "${files[@]}"; then
    echo "${protocol} port ${port} is listening"
  else
    echo "nothing listens on ${protocol} port ${port}"
    return 1
  fi
}

# http: GET url answers the status (default 200) and, when body is given, exactly that body
# (surrounding whitespace ignored).
kind_http() {
  local url="${dropin[url]}" expected="${dropin[status]:-200}" reply status body want=''
  reply="$(http_get "${url}")"
  status="${reply%% *}"
  body="$(trim "${reply#* }")"
  [[ -v 'dropin[body]' ]] && want=" '${dropin[body]}'"
  if [[ "${status}" == "${expected}" ]] && { [[ -z "${want}" ]] || [[ "${body}" == "${dropin[body]}" ]]; }; then
    echo "GET ${url} -> ${status} '${body:0:80}'"
  else
    echo "GET ${url} -> ${status:-no answer} '${body:0:80}', expected ${expected}${want}"
    return 1
  fi
}

# package: installed according to dpkg (Debian, Ubuntu) or rpm (Amazon Linux).
kind_package() {
  local package="${dropin[package]}" state
  if command -v dpkg-query >/dev/null 2>&1; then
    # shellcheck disable=SC2016 # dpkg-query expands its own ${field} format
    state="$(dpkg-query --show --showformat='${db:Status-Abbrev}${Version}' "${package}" 2>/dev/null || true)"
    if [[ "${state}" == 'ii '* ]]; then
      echo "${package} ${state:3} installed (dpkg)"
      return 0
    fi
    echo "${package} is not installed (dpkg: ${state:-unknown package})"
    return 1
  elif command -v rpm >/dev/null 2>&1; then
    if state="$(rpm -q --queryformat '%{VERSION}-%{RELEASE}' "${package}" 2>&1)"; then
      echo "${package} ${state} installed (rpm)"
      return 0
    fi
    echo "${package} is not installed (rpm: ${state})"
    return 1
  fi
  echo 'neither dpkg-query nor rpm is available'
  return 1
}

# command: `bash -c <command>` exits 0; the detail is the exit status and the last output line.
kind_command() {
  local output status=0 last
  output="$(bash -c "${dropin[command]}" 2>&1)" || status=$?
  output="$(trim "${output}")"
  last="${output##*$'\n'}"
  echo "exit ${status}${last:+: ${last:0:200}}"
  ((status == 0))
}
