#!/usr/bin/env bash
# Installs the project's toolchain, pinned and cached, into the work tree:
#   apt     Debian packages (qemu, debootstrap, shellcheck, xorriso, ...) when missing; with
#           FACTORY_LOCAL_ARM64=1 also those of the local arm64 option (APT_PACKAGES_ARM64)
#   node    npm install when node_modules is missing or package-lock.json changed
#   python  .cache/venv from the hash-locked requirements.txt, by uv (UV_VERSION of
#           tools/versions.env, hashes in tools/uv-requirements.txt; installed into .cache/uv,
#           its download cache in .cache/uv-cache)
#   packer  Packer + amazon/ansible/qemu plugins built from source at the versions pinned in
#           tools/versions.env: .cache/bin/packer, plugins in .cache/packer-plugins; Go's build
#           and module caches in .cache/go, so a rebuild after a pin bump compiles only what changed
#   syft    syft (the bake's SBOM generator, packer/scripts/sbom.sh) built from source at
#           SYFT_VERSION of tools/versions.env: .cache/bin/syft, same Go caches as packer
#   lock    (only when named) writes tools/uv-requirements.txt for UV_VERSION and resolves
#           requirements.in into requirements.txt, both with hashes
#
# Usage: scripts/setup.sh [--force] [apt] [node] [python] [packer] [syft] [lock]   (no component: all but lock)
# apt runs first; the other components run concurrently (mostly network-bound, while Packer's
# compile is CPU-bound). Ends with a table of the phases with their start, end and duration.
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
  python3-venv                               # .cache/uv (the venv pip installs the pinned uv into)
)

# Only with FACTORY_LOCAL_ARM64=1 (README "Architectures", local arm64 bakes): emulating arm64 on
# an x86_64 host. CI and the default setup do not install them.
readonly APT_PACKAGES_ARM64=(
  qemu-system-arm  # qemu-system-aarch64 (machine virt, TCG)
  qemu-efi-aarch64 # AAVMF UEFI firmware: /usr/share/AAVMF/AAVMF_{CODE,VARS}.fd
  qemu-user-static # debootstrap --arch=arm64 runs the target's binaries through binfmt_misc
  dosfstools       # mkfs.vfat for the EFI system partition of the arm64 base image
  mtools           # mcopy: write that partition without mounting it (no vfat in this kernel)
)

FORCE="${SETUP_FORCE:-0}"

# fresh NAME KEY — true when step NAME is up to date for KEY (and not forced).
fresh() {
  [[ "${FORCE}" != 1 ]] && stamp_ok "${STAMPS}" "$1" "$2"
}

step_apt() {
  local pkg missing=() wanted=("${APT_PACKAGES[@]}")
  [[ "${FACTORY_LOCAL_ARM64:-}" != 1 ]] || wanted+=("${APT_PACKAGES_ARM64[@]}")
  for pkg in "${wanted[@]}"; do
    if [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null)" != "ii " ]]; then
      missing+=("${pkg}")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "apt: all ${#wanted[@]} packages present"
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

readonly UV_HOME="${CACHE}/uv"
readonly UV_PIN="${ROOT}/tools/uv-requirements.txt"

# python_base — path of the python3 that the venv is built on; dies below PYTHON_MIN_VERSION.
python_base() {
  local base version
  base="$(command -v python3)" || die "python: python3 not found"
  version="$("${base}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  [[ "$(printf '%s\n%s\n' "${PYTHON_MIN_VERSION}" "${version}" | sort -V | head -n1)" == "${PYTHON_MIN_VERSION}" ]] ||
    die "python: python3 is ${version}, need >= ${PYTHON_MIN_VERSION} (tools/versions.env)"
  printf '%s\n' "${base}"
}

# uv_env — environment for every uv call: caches in the work tree, the system's python only
# (uv never downloads an interpreter here).
uv_env() {
  export UV_CACHE_DIR="${CACHE}/uv-cache" UV_PYTHON_DOWNLOADS=never UV_PYTHON_PREFERENCE=only-system
}

# uv_install — the pinned uv in .cache/uv/bin/uv: a plain venv (python3-venv's pip) into which
# pip installs the uv wheel whose hash tools/uv-requirements.txt pins.
uv_install() {
  local base key
  base="$(python_base)"
  key="$(hash_of "${UV_PIN}" "$("${base}" --version 2>&1)")"
  if [[ -x "${UV_HOME}/bin/uv" ]] && "${UV_HOME}/bin/uv" --version >/dev/null 2>&1 && fresh uv "${key}"; then
    return
  fi
  log "python: installing $(grep -Eo '^uv==[^ ]+' "${UV_PIN}") into ${UV_HOME#"${ROOT}/"}"
  "${base}" -m venv --clear "${UV_HOME}"
  "${UV_HOME}/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    --only-binary :all: --require-hashes -r "${UV_PIN}"
  stamp_write "${STAMPS}" uv "${key}"
}

# check_python_lock — every pin of requirements.in appears in requirements.txt (a bumped pin
# without `scripts/setup.sh lock` would otherwise install the old version).
check_python_lock() {
  local line name
  while read -r line; do
    line="${line%%#*}"
    line="${line//[[:space:]]/}"
    [[ -n "${line}" ]] || continue
    name="${line%%==*}"
    name="${name%%\[*}"
    name="${name,,}"
    name="${name//[_.]/-}"
    grep -Eq "^${name}==${line##*==}( |\$)" "${ROOT}/requirements.txt" ||
      die "python: requirements.txt does not lock ${line} of requirements.in: run scripts/setup.sh lock"
  done <"${ROOT}/requirements.in"
}

step_python() {
  local venv="${CACHE}/venv" base key
  toolchain_load_versions
  base="$(python_base)"
  grep -Eq "^uv==${UV_VERSION//./\\.}( |\$)" "${UV_PIN}" ||
    die "python: ${UV_PIN#"${ROOT}/"} does not pin uv ${UV_VERSION} (tools/versions.env): run scripts/setup.sh lock"
  check_python_lock
  uv_env
  phase "python: uv" uv_install
  key="$(hash_of "${ROOT}/requirements.txt" "$("${base}" --version 2>&1)" "${UV_PIN}")"
  if [[ -x "${venv}/bin/python" ]] && "${venv}/bin/python" -c '' 2>/dev/null && fresh python "${key}"; then
    log "python: ${venv#"${ROOT}/"} up to date"
    return
  fi
  if [[ "$("${venv}/bin/python" --version 2>&1)" == "$("${base}" --version 2>&1)" ]]; then
    log "python: syncing ${venv#"${ROOT}/"} with requirements.txt"
  else
    phase "python: venv" "${UV_HOME}/bin/uv" venv --quiet --clear --python "${base}" "${venv}"
  fi
  # sync: exactly the locked set (extras removed), every file checked against its hash; .pyc
  # compiled now, as pip did, so no tool compiles its modules on each start.
  phase "python: sync" "${UV_HOME}/bin/uv" pip sync --quiet --python "${venv}/bin/python" \
    --require-hashes --compile-bytecode "${ROOT}/requirements.txt"
  stamp_write "${STAMPS}" python "${key}"
}

# step_lock — with the uv installed now: tools/uv-requirements.txt for UV_VERSION, then
# requirements.in (direct pins) resolved into requirements.txt. Every file of every package is
# pinned by hash, for every platform (--universal) and Python >= PYTHON_MIN_VERSION.
step_lock() {
  local uv="${UV_HOME}/bin/uv" compile
  toolchain_load_versions
  compile=(pip compile --quiet --universal --generate-hashes --python-version "${PYTHON_MIN_VERSION}"
    --custom-compile-command "scripts/setup.sh lock")
  uv_env
  phase "python: uv" uv_install
  "${uv}" "${compile[@]}" --output-file "${UV_PIN}.new" - <<<"uv==${UV_VERSION}"
  mv -f "${UV_PIN}.new" "${UV_PIN}"
  (cd "${ROOT}" && "${uv}" "${compile[@]}" --output-file requirements.txt requirements.in)
  log "lock: ${UV_PIN#"${ROOT}/"} and requirements.txt written"
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

# use_go — put /usr/local/go/bin on PATH when no go is there, and check Go's version.
use_go() {
  if ! have "${GO:-go}" && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:${PATH}"
  fi
  toolchain_check_go
}

# go_tool_key PATTERN — the stamp key of a tool built from source: the versions.env lines that
# match PATTERN, the build recipe and the Go toolchain (after use_go).
go_tool_key() {
  hash_of "$(grep -E "$1" "${ROOT}/tools/versions.env")" \
    "${ROOT}/scripts/lib/packer-toolchain.sh" "$("${GO:-go}" env GOVERSION GOOS GOARCH)"
}

step_packer() {
  local bin="${CACHE}/bin" plugins="${CACHE}/packer-plugins" work="${CACHE}/build/packer" key
  toolchain_load_versions
  check_plugin_pins
  use_go
  # Keyed by the Packer pins only (other entries of versions.env do not force a rebuild).
  key="$(go_tool_key '^(PACKER_|GO_MIN_VERSION=)')"
  if [[ -x "${bin}/packer" ]] && compgen -G "${plugins}/github.com/hashicorp/qemu/packer-plugin-qemu_*" >/dev/null &&
    fresh packer "${key}"; then
    log "packer: $("${bin}/packer" version | head -n1) and plugins up to date"
    return
  fi
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
    # Go's caches in the work tree: a rebuild after a pin bump (or a --force) downloads and
    # compiles only what changed. Module cache files stay writable (-modcacherw), so
    # `rm -rf .cache` works.
    export GOCACHE="${CACHE}/go/build" GOMODCACHE="${CACHE}/go/mod"
    toolchain_build "${bin}" "${work}"
    phase "packer: install plugins" toolchain_install "${bin}/packer" "${plugins}" "${work}"
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
}

step_syft() {
  local bin="${CACHE}/bin" work="${CACHE}/build/syft" key
  toolchain_load_versions
  use_go
  key="$(go_tool_key '^(SYFT_|GO_MIN_VERSION=)')"
  if [[ -x "${bin}/syft" ]] && fresh syft "${key}"; then
    log "syft: ${SYFT_VERSION} up to date"
    return
  fi
  # Machine-wide copy, as for packer (SETUP_TOOL_CACHE= disables it).
  local shared="${SETUP_TOOL_CACHE-${XDG_CACHE_HOME:-${HOME}/.cache}/image-factory}"
  shared="${shared:+${shared}/syft-${key:0:16}}"
  if [[ "${FORCE}" != 1 && -n "${shared}" && -x "${shared}/syft" ]]; then
    log "syft: reusing the build in ${shared}"
    mkdir -p "${bin}"
    cp -f "${shared}/syft" "${bin}/syft"
  else
    export GOCACHE="${CACHE}/go/build" GOMODCACHE="${CACHE}/go/mod"
    syft_build "${bin}" "${work}"
    rm -rf "${work}"
    if [[ -n "${shared}" ]] && mkdir -p "${shared}.tmp" 2>/dev/null; then
      cp -f "${bin}/syft" "${shared}.tmp/syft"
      rm -rf "${shared}"
      mv "${shared}.tmp" "${shared}"
    fi
  fi
  stamp_write "${STAMPS}" syft "${key}"
}

main() {
  local steps=() step pids=() names=() failed=() i
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --force) FORCE=1 ;;
      -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
      apt | node | python | packer | syft | lock) steps+=("$1") ;;
      *) die "unknown component '$1' (apt, node, python, packer, syft, lock)" ;;
    esac
    shift
  done
  [[ ${#steps[@]} -gt 0 ]] || steps=(apt node python packer syft)
  mkdir -p "${CACHE}"
  PHASE_LOG="$(mktemp)"
  PHASE_T0="${EPOCHREALTIME}"
  export PHASE_LOG PHASE_T0
  trap 'rm -f "${PHASE_LOG}"' EXIT
  # apt first: it installs what the others run (python3-venv, git, curl).
  if [[ " ${steps[*]} " == *" apt "* ]]; then phase apt step_apt; fi
  for step in "${steps[@]}"; do
    [[ "${step}" != apt ]] || continue
    phase "${step}" "step_${step}" &
    pids+=($!)
    names+=("${step}")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[${i}]}" || failed+=("${names[${i}]}")
  done
  phase_table
  [[ ${#failed[@]} -eq 0 ]] || die "failed: ${failed[*]}"
}

main "$@"
