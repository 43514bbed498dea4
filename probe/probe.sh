#!/usr/bin/env bash
# Probe runner: checks a freshly booted test instance of a candidate image.
#
# The pipeline runs it as root on the test instance: on AWS through SSM Run Command
# (AWS-RunShellScript), locally through the qemu guest agent (guest-exec). It runs the common
# checks every image gets (lib/common.sh: services, identity, SSH hardening, cloud-init, IMDSv2
# on AWS), then the image definition's own drop-in checks (*.check in the checks directory, in
# file-name order; format: probe/README.md).
#
# Usage: probe.sh [--backend aws|local] [--checks-dir DIR] [--no-common] [--list | --validate]
#   --backend     pipeline backend; detected from DMI (EC2 or not) when omitted
#   --checks-dir  directory of the drop-in checks (default: checks.d next to this script, where
#                 the image build installs its definition's checks)
#   --no-common   only the drop-in checks (to try them on a machine; the pipeline never passes it)
#   --list        print the check names in run order, one per line, and exit 0
#   --validate    check the drop-ins' syntax without running anything; exit 1 if one is invalid
#
# Output: one JSON object per check and line on stdout, in run order:
#   {"check":"<name>","ok":true|false,"detail":"<text>"}
# Each check runs in its own process under a timeout and reports even when another fails,
# hangs or is an invalid drop-in (reported as a failed check with the reason).
# Exit status: 0 when every check passed, 1 when any failed, 2 on a usage error.
#
# Environment (tuning, optional):
#   PROBE_CHECK_TIMEOUT     seconds a check may run unless its drop-in sets timeout= (default 30)
#   PROBE_CLOUD_INIT_WAIT   seconds to wait for cloud-init and systemd to settle (default 300)
#   PROBE_HTTP_TIMEOUT      seconds per HTTP request (default 5)
set -o nounset -o errexit -o pipefail

PROBE_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=probe/lib/util.sh
source "${PROBE_HOME}/lib/util.sh"
# shellcheck source=probe/lib/common.sh
source "${PROBE_HOME}/lib/common.sh"
# shellcheck source=probe/lib/kinds.sh
source "${PROBE_HOME}/lib/kinds.sh"

# Seconds between a check's timeout (TERM) and KILL; the longest detail kept per check.
readonly KILL_AFTER=5 DETAIL_MAX=500

usage() {
  sed -n '2,/^set -o/{/^set -o/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

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

# The checks to run, in order: parallel arrays of name, type (common | dropin | invalid),
# argument (common: the name; dropin: the file; invalid: the reason) and timeout in seconds.
plan_names=()
plan_types=()
plan_args=()
plan_timeouts=()

plan_add() {
  plan_names+=("$1")
  plan_types+=("$2")
  plan_args+=("$3")
  plan_timeouts+=("$4")
}

# plan BACKEND CHECKS_DIR COMMON: fills the plan. Drop-ins for the other backend are left out;
# an invalid drop-in or a duplicate name becomes an `invalid` entry, reported as a failed check.
plan() {
  local backend="$1" dir="$2" common="$3" name file
  local -A seen=()
  if [[ "${common}" == true ]]; then
    while IFS= read -r name; do
      plan_add "${name}" common "${name}" "$(common_timeout "${name}")"
      seen["${name}"]='a common check'
    done < <(common_checks "${backend}")
  fi
  local LC_COLLATE=C
  for file in "${dir}"/*.check; do
    [[ -e "${file}" ]] || continue
    name="$(dropin_name "${file}")"
    if ! parse_dropin "${file}"; then
      plan_add "${name}" invalid "invalid drop-in ${file##*/}: ${dropin_error}" 0
      continue
    fi
    [[ "${dropin[backend]:-${backend}}" == "${backend}" ]] || continue
    if [[ -v "seen[${name}]" ]]; then
      plan_add "${name}" invalid "drop-in ${file##*/}: the name ${name} is taken by ${seen[${name}]}" 0
      continue
    fi
    seen["${name}"]="${file##*/}"
    plan_add "${name}" dropin "${file}" "${dropin[timeout]:-${check_timeout}}"
  done
}

# run_entry INDEX: runs one planned check in its own process under its timeout; prints its JSON
# line; fails when the check failed.
run_entry() {
  local i="$1" detail ok=false status=0
  if [[ "${plan_types[i]}" == invalid ]]; then
    detail="${plan_args[i]}"
  else
    detail="$(timeout --kill-after="${KILL_AFTER}" "${plan_timeouts[i]}" \
      bash "${PROBE_HOME}/lib/run-check.sh" "${plan_types[i]}" "${plan_args[i]}" </dev/null 2>&1)" || status=$?
    if ((status == 0)); then
      ok=true
    elif ((status == 124 || status == 137)); then
      detail="timed out after ${plan_timeouts[i]} s${detail:+: ${detail}}"
    fi
  fi
  detail="$(trim "${detail//$'\n'/ }")"
  printf '{"check":%s,"ok":%s,"detail":%s}\n' "$(json_string "${plan_names[i]}")" "${ok}" \
    "$(json_string "${detail:0:DETAIL_MAX}")"
  [[ "${ok}" == true ]]
}

# validate DIR: prints each invalid drop-in of DIR with its reason; fails when there is one.
validate() {
  local dir="$1" file count=0 invalid=0
  local LC_COLLATE=C
  for file in "${dir}"/*.check; do
    [[ -e "${file}" ]] || continue
    count=$((count + 1))
    if ! parse_dropin "${file}"; then
      echo "${file}: ${dropin_error}"
      invalid=$((invalid + 1))
    fi
  done
  echo "${count} drop-in checks in ${dir}, ${invalid} invalid"
  ((invalid == 0))
}

main() {
  local backend='' list=false check_syntax=false common=true checks_dir="${PROBE_HOME}/checks.d" i failed=0
  while (($# > 0)); do
    case "$1" in
      --backend | --checks-dir)
        (($# >= 2)) || {
          echo "probe.sh: $1 needs a value" >&2
          return 2
        }
        if [[ "$1" == --backend ]]; then backend="$2"; else checks_dir="$2"; fi
        shift 2
        ;;
      --backend=*) backend="${1#--backend=}" && shift ;;
      --checks-dir=*) checks_dir="${1#--checks-dir=}" && shift ;;
      --no-common) common=false && shift ;;
      --list) list=true && shift ;;
      --validate) check_syntax=true && shift ;;
      -h | --help) usage && return 0 ;;
      *)
        echo "probe.sh: unknown argument $1" >&2
        usage >&2
        return 2
        ;;
    esac
  done
  [[ -n "${backend}" ]] || backend="$(detect_backend)"
  if [[ "${backend}" != aws && "${backend}" != local ]]; then
    echo "probe.sh: --backend must be aws or local, got ${backend}" >&2
    return 2
  fi
  # The default directory may be absent (an image definition without own checks); a named one not.
  if [[ "${checks_dir}" != "${PROBE_HOME}/checks.d" && ! -d "${checks_dir}" ]]; then
    echo "probe.sh: --checks-dir ${checks_dir} is not a directory" >&2
    return 2
  fi
  if [[ "${check_syntax}" == true ]]; then
    validate "${checks_dir}"
    return
  fi
  plan "${backend}" "${checks_dir}" "${common}"
  if [[ "${list}" == true ]]; then
    ((${#plan_names[@]} == 0)) || printf '%s\n' "${plan_names[@]}"
    return 0
  fi
  # The machine may be reachable (SSM Online, guest agent answering) before its first boot has
  # finished: wait, bounded, for cloud-init and systemd to settle so the checks judge the booted
  # machine, not a half-started one. A timeout is not a failure here: the checks report it.
  timeout "${cloud_init_wait}" cloud-init status --wait >/dev/null 2>&1 || true
  timeout "${cloud_init_wait}" systemctl is-system-running --wait >/dev/null 2>&1 || true
  for i in "${!plan_names[@]}"; do
    run_entry "${i}" || failed=$((failed + 1))
  done
  ((failed == 0)) || return 1
}

main "$@"
