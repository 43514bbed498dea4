#!/usr/bin/env bash
# Installs the project's toolchain, pinned and cached, into the work tree:
#   apt     Debian packages (qemu, debootstrap, shellcheck, xorriso, ...) when missing
#   node    npm ci when node_modules is missing or package-lock.json changed
#   python  .cache/venv from requirements.txt
#   packer  Packer + amazon/ansible/qemu plugins built from source at the versions pinned in
#           tools/versions.env: .cache/bin/packer, plugins in .cache/packer-plugins
#
# Usage: scripts/setup.sh [--force] [apt] [node] [python] [packer]   (no component: all)
# Each step records a stamp in .cache/stamps keyed by what it depends on (pinned versions,
# lock-file hashes, toolchain versions), so a second run only checks and takes seconds.
# --force (or SETUP_FORCE=1) ignores the stamps. Afterwards: `source scripts/env.sh`.
set -o nounset -o errexit -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CACHE="${ROOT}/.cache"
readonly STAMPS="${CACHE}/stamps"
# shellcheck source=scripts/lib/common.sh
source "${ROOT}/scripts/lib/common.sh"
# shellcheck source=scripts/lib/packer-toolchain.sh
source "${ROOT}/scripts/lib/packer-toolchain.sh"
LOG_PREFIX=setup

# Debian packages the factory needs on the host (local backend, linting, image seeds).
readonly APT_PACKAGES=(
  ca-certificates curl git jq openssh-client # fetching, scripting, ssh keys for bakes
  qemu-system-x86 qemu-utils ovmf            # local backend VMs (TCG), qcow2 tools, UEFI firmware
  debootstrap fdisk e2fsprogs                # local Debian 12 base image (sfdisk, mkfs.ext4)
  xorriso                                    # Packer cd_files / NoCloud seed ISOs
  shellcheck                                 # lint of every shell script
  python3-venv                               # .cache/venv
)

FORCE="${SETUP_FORCE:-0}"

# fresh NAME KEY — true when step NAME is up to date for KEY (and not forced).
fresh() {
  [[ "${FORCE}" != 1 ]] && stamp_ok "${STAMPS}" "$1" "$2"
}

step_apt() {
  local pkg missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null)" != "ii " ]]; then
      missing+=("${pkg}")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: all ${#APT_PACKAGES[@]} packages present"
    return
  fi
  log "apt: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

step_node() {
  have npm || die "node: npm not found (install Node.js 20+)"
  local key
  key="$(hash_of "${ROOT}/package-lock.json" "$(node --version)")"
  if [[ -d "${ROOT}/node_modules" ]] && fresh node "${key}"; then
    log "node: node_modules up to date"
    return
  fi
  if [[ "${FORCE}" != 1 && -d "${ROOT}/node_modules" && ! -f "${STAMPS}/node.stamp" ]] &&
    (cd "${ROOT}" && npm ls --all >/dev/null 2>&1); then
    # A tree installed before this script kept stamps: adopt it when it is consistent.
    log "node: adopting the existing node_modules"
  else
    # `npm install` from the committed lock (exact versions in package.json), not `npm ci`: npm
    # 11.19 writes locks without the other platforms' optional packages (@biomejs/cli-*,
    # @rollup/rollup-*) and then `npm ci` refuses its own lock as "out of sync".
    log "node: npm install (from package-lock.json)"
    (cd "${ROOT}" && npm install --no-audit --no-fund) ||
      die "node: npm install failed"
  fi
  stamp_write "${STAMPS}" node "${key}"
}

step_python() {
  local venv="${CACHE}/venv" base key
  base="$(command -v python3)" || die "python: python3 not found"
  key="$(hash_of "${ROOT}/requirements.txt" "$("${base}" --version 2>&1)")"
  if [[ -x "${venv}/bin/python" ]] && "${venv}/bin/python" -c '' 2>/dev/null && fresh python "${key}"; then
    log "python: ${venv#"${ROOT}/"} up to date"
    return
  fi
  if ! { [[ -x "${venv}/bin/python" ]] && "${venv}/bin/python" -c 'import pip' 2>/dev/null; }; then
    log "python: creating ${venv#"${ROOT}/"}"
    "${base}" -m venv --clear "${venv}"
  else
    log "python: adopting ${venv#"${ROOT}/"}"
  fi
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${ROOT}/requirements.txt"
  stamp_write "${STAMPS}" python "${key}"
}

# check_plugin_pins — packer/plugins.pkr.hcl must require exactly the versions we build.
check_plugin_pins() {
  local hcl="${ROOT}/packer/plugins.pkr.hcl" name version
  [[ -f "${hcl}" ]] || return 0
  for name in "${PACKER_PLUGINS[@]}"; do
    version="$(plugin_version "${name}")"
    grep -Eq "source[[:space:]]*=[[:space:]]*\"github.com/hashicorp/${name}\"" "${hcl}" ||
      die "packer: ${hcl#"${ROOT}/"} does not require github.com/hashicorp/${name}"
    grep -Eq "version[[:space:]]*=[[:space:]]*\"= ${version//./\\.}\"" "${hcl}" ||
      die "packer: ${hcl#"${ROOT}/"} does not pin ${name} to \"= ${version}\" (tools/versions.env)"
  done
}

step_packer() {
  local bin="${CACHE}/bin" plugins="${CACHE}/packer-plugins" work="${CACHE}/build/packer" key
  toolchain_load_versions
  check_plugin_pins
  if ! have "${GO:-go}" && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:${PATH}"
  fi
  toolchain_check_go
  # Keyed by the Packer pins only (other entries of versions.env do not force a rebuild).
  key="$(hash_of "$(grep -E '^(PACKER_|GO_MIN_VERSION=)' "${ROOT}/tools/versions.env")" \
    "${ROOT}/scripts/lib/packer-toolchain.sh" "$("${GO:-go}" env GOVERSION GOOS GOARCH)")"
  if [[ -x "${bin}/packer" ]] && compgen -G "${plugins}/github.com/hashicorp/qemu/packer-plugin-qemu_*" >/dev/null &&
    fresh packer "${key}"; then
    log "packer: $("${bin}/packer" version | head -n1) and plugins up to date"
    return
  fi
  local started=${SECONDS}
  # Machine-wide copy keyed like the stamp: a fresh clone (CI) on the same machine reuses
  # the binaries instead of rebuilding them (SETUP_TOOL_CACHE= disables it).
  local shared="${SETUP_TOOL_CACHE-${XDG_CACHE_HOME:-${HOME}/.cache}/image-factory}"
  shared="${shared:+${shared}/packer-${key:0:16}}"
  if [[ "${FORCE}" != 1 && -n "${shared}" && -x "${shared}/bin/packer" && -d "${shared}/plugins" ]]; then
    log "packer: reusing the build in ${shared}"
    mkdir -p "${bin}"
    rm -rf "${plugins}"
    cp -f "${shared}/bin/packer" "${bin}/packer"
    cp -R "${shared}/plugins" "${plugins}"
  else
    toolchain_build "${bin}" "${work}"
    toolchain_install "${bin}/packer" "${plugins}" "${work}"
    rm -rf "${work}"
    if [[ -n "${shared}" ]] && mkdir -p "${shared}.tmp/bin" 2>/dev/null; then
      cp -f "${bin}/packer" "${shared}.tmp/bin/packer"
      rm -rf "${shared}.tmp/plugins" "${shared}"
      cp -R "${plugins}" "${shared}.tmp/plugins"
      mv "${shared}.tmp" "${shared}"
    fi
  fi
  [[ "$("${bin}/packer" version | head -n1)" == "Packer v${PACKER_VERSION}" ]] || die "packer: ${bin}/packer is broken"
  stamp_write "${STAMPS}" packer "${key}"
  log "packer: installed in $((SECONDS - started))s"
}

main() {
  local steps=() step started
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --force) FORCE=1 ;;
      -h | --help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
      apt | node | python | packer) steps+=("$1") ;;
      *) die "unknown component '$1' (apt, node, python, packer)" ;;
    esac
    shift
  done
  [[ ${#steps[@]} -gt 0 ]] || steps=(apt node python packer)
  mkdir -p "${CACHE}"
  for step in "${steps[@]}"; do
    started=${SECONDS}
    "step_${step}"
    log "${step}: $((SECONDS - started))s"
  done
}

main "$@"
