#!/usr/bin/env bash
# Fails the build when the image would still carry the build machine's identity or access:
# SSH host keys, a non-empty /etc/machine-id, any authorized_keys, cloud-init instance state,
# shell history, the bake-only apt setting, or the build user (account, home, sudo
# rule). Runs as root right after cleanup.sh (build.pkr.hcl, "finalize"); prints every
# finding, exits 1 if there is any.
#
# Environment:
#   FACTORY_BUILD_USER   the temporary build user that must be gone (required)
#   FACTORY_IMAGE_ROOT   check a mounted image tree instead of / (default: empty = /); the
#                        staging files are then left alone
# On success on a live machine it deletes the staging directory it was run from.
set -o nounset -o errexit -o pipefail

STAGING_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly STAGING_DIR
readonly BUILD_USER="${FACTORY_BUILD_USER:?FACTORY_BUILD_USER must name the build user}"
readonly R="${FACTORY_IMAGE_ROOT:-}"

failures=0
fail() {
  printf 'validate-image: FAIL: %s\n' "$*" >&2
  failures=$((failures + 1))
}
ok() { printf 'validate-image: ok: %s\n' "$*" >&2; }

# present GLOB... — print the paths that exist among the (already expanded) arguments.
present() {
  local path
  for path in "$@"; do
    if [[ -e "${path}" || -L "${path}" ]]; then printf '%s\n' "${path}"; fi
  done
}

# home_dirs — home directories of every account in the image, plus /root (with prefix R).
home_dirs() {
  { printf '/root\n'; cut -d: -f6 "${R}/etc/passwd"; } | sort -u | while read -r dir; do
    if [[ -n "${dir}" && "${dir}" != / && -d "${R}${dir}" ]]; then printf '%s\n' "${R}${dir}"; fi
  done
}

shopt -s nullglob

# SSH host keys
found="$(present "${R}"/etc/ssh/ssh_host_*)"
if [[ -n "${found}" ]]; then fail "SSH host keys remain: ${found//$'\n'/ }"; else ok "no SSH host keys"; fi

# machine-id: present and empty (systemd fills it at first boot)
if [[ ! -f "${R}/etc/machine-id" ]]; then
  fail "/etc/machine-id is missing (must exist, empty)"
elif [[ -s "${R}/etc/machine-id" ]]; then
  fail "/etc/machine-id is not empty"
else
  ok "/etc/machine-id empty"
fi
if [[ -f "${R}/var/lib/dbus/machine-id" && ! -L "${R}/var/lib/dbus/machine-id" && -s "${R}/var/lib/dbus/machine-id" ]]; then
  fail "/var/lib/dbus/machine-id holds an id"
fi

# authorized_keys anywhere on the root file system
found="$(find "${R:-/}" -xdev \( -name authorized_keys -o -name authorized_keys2 \) -path '*/.ssh/*' 2>/dev/null || true)"
if [[ -n "${found}" ]]; then fail "authorized_keys remain: ${found//$'\n'/ }"; else ok "no authorized_keys"; fi

# cloud-init instance state, seed and logs
found="$(present "${R}/var/lib/cloud/instance" "${R}"/var/lib/cloud/instances/* "${R}"/var/lib/cloud/data/* \
  "${R}"/var/lib/cloud/seed/* "${R}/var/log/cloud-init.log" "${R}/var/log/cloud-init-output.log")"
if [[ -n "${found}" ]]; then fail "cloud-init state remains: ${found//$'\n'/ }"; else ok "no cloud-init state"; fi

# shell history
history=()
while read -r home; do
  history+=("${home}"/.bash_history "${home}"/.zsh_history "${home}"/.python_history "${home}"/.lesshst)
done < <(home_dirs)
found="$(present "${history[@]}")"
if [[ -n "${found}" ]]; then fail "shell history remains: ${found//$'\n'/ }"; else ok "no shell history"; fi

# the bake-only apt setting (packer/locals.pkr.hcl: no translations)
found="$(present "${R}/etc/apt/apt.conf.d/99image-factory-bake")"
if [[ -n "${found}" ]]; then fail "bake apt setting remains: ${found}"; else ok "no bake apt setting"; fi

# the build user: account, group, home, sudo rule
before=${failures}
if grep -q "^${BUILD_USER}:" "${R}/etc/passwd"; then fail "build user ${BUILD_USER} still has an account"; fi
if grep -q "^${BUILD_USER}:" "${R}/etc/shadow" 2>/dev/null; then fail "build user ${BUILD_USER} still in /etc/shadow"; fi
if grep -q "^${BUILD_USER}:" "${R}/etc/group"; then fail "build user's group ${BUILD_USER} remains"; fi
if [[ -e "${R}/home/${BUILD_USER}" ]]; then fail "build user's home /home/${BUILD_USER} remains"; fi
found="$(grep -El "^[[:space:]]*${BUILD_USER}[[:space:]]" "${R}/etc/sudoers" "${R}"/etc/sudoers.d/* 2>/dev/null || true)"
if [[ -n "${found}" ]]; then fail "sudo rule for ${BUILD_USER} remains in: ${found//$'\n'/ }"; fi
if [[ ${failures} -eq ${before} ]]; then ok "build user ${BUILD_USER} removed"; fi

if [[ ${failures} -gt 0 ]]; then
  printf 'validate-image: %d check(s) failed: the image is not fit to ship\n' "${failures}" >&2
  exit 1
fi

# Last traces of the bake: the staging directory and Packer's uploaded inline script.
if [[ -z "${R}" && "${STAGING_DIR}" == /tmp/image-factory ]]; then
  rm -rf "${STAGING_DIR}" /tmp/script_*.sh
fi
printf 'validate-image: image is clean\n' >&2
