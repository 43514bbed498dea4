#!/usr/bin/env bash
# Builds Packer and the plugins pinned in tools/versions.env from source (Go module proxy)
# and installs the plugins into a plugin directory. Used by scripts/setup.sh and by the
# builder stage of packer/Dockerfile, so both get byte-for-byte the same recipe.
#
# Usage:
#   packer-toolchain.sh build   BIN_DIR WORK_DIR              # BIN_DIR/packer, WORK_DIR/plugins/*
#   packer-toolchain.sh install PACKER PLUGIN_DIR WORK_DIR    # packer plugins install --path
#   packer-toolchain.sh all     BIN_DIR PLUGIN_DIR WORK_DIR   # both
# Environment: VERSIONS_FILE (default: tools/versions.env of this checkout), GO (default: go).
#
# Why not `go install module@version`: the proxy here refuses the module's version list
# (the deprecation check of `go install m@v` needs it) and packer/plugins carry `replace`
# directives in go.mod (go-cty fork), which `go install m@v` rejects. So: `go mod download`
# the pinned module (checked against sum.golang.org), copy it out of the read-only module
# cache and `go build` it in place, with the version metadata goreleaser would set.
set -o nounset -o errexit -o pipefail

TOOLCHAIN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/common.sh
source "${TOOLCHAIN_DIR}/common.sh"

readonly PACKER_PLUGINS=(amazon ansible qemu)

# toolchain_load_versions — source the pinned versions.
toolchain_load_versions() {
  local file="${VERSIONS_FILE:-${TOOLCHAIN_DIR}/../../tools/versions.env}"
  [[ -f "${file}" ]] || die "versions file not found: ${file}"
  # shellcheck source=tools/versions.env
  source "${file}"
}

# plugin_version NAME — pinned version of plugin NAME (amazon → PACKER_PLUGIN_AMAZON_VERSION).
plugin_version() {
  local var="PACKER_PLUGIN_${1^^}_VERSION"
  [[ -n "${!var:-}" ]] || die "${var} is not set in versions.env"
  printf '%s\n' "${!var}"
}

toolchain_check_go() {
  local go="${GO:-go}" have_version
  have "${go}" || die "go not found on PATH (need >= ${GO_MIN_VERSION}; Debian's golang is too old)"
  have_version="$("${go}" env GOVERSION)"
  have_version="${have_version#go}"
  if [[ "$(printf '%s\n%s\n' "${GO_MIN_VERSION}" "${have_version}" | sort -V | head -n1)" != "${GO_MIN_VERSION}" ]]; then
    die "go ${have_version} is older than ${GO_MIN_VERSION}"
  fi
}

# json_field NAME — first string value of "NAME" in `go mod download -json` output on stdin.
json_field() {
  sed -n "s/^[[:space:]]*\"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" | head -n1
}

# build_module MODULE VERSION OUTPUT WORK_DIR LDFLAGS — fetch MODULE@vVERSION and build its
# main package to OUTPUT.
build_module() {
  local module="$1" version="$2" output="$3" work="$4" ldflags="$5"
  local go="${GO:-go}" meta dir err src started
  started=${SECONDS}
  meta="$(GOFLAGS=-mod=mod "${go}" mod download -json "${module}@v${version}")" || true
  err="$(json_field Error <<<"${meta}")"
  [[ -z "${err}" ]] || die "cannot download ${module}@v${version}: ${err}"
  dir="$(json_field Dir <<<"${meta}")"
  [[ -d "${dir}" ]] || die "no source directory for ${module}@v${version}"
  src="${work}/src/${module##*/}@v${version}"
  rm -rf "${src}"
  mkdir -p "${work}/src"
  cp -R "${dir}" "${src}"
  chmod -R u+w "${src}"
  log "building ${module}@v${version}"
  (
    cd "${src}"
    CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod \
      "${go}" build -trimpath -ldflags "${ldflags}" -o "${output}" .
  )
  rm -rf "${src}"
  log "built ${output##*/} v${version} in $((SECONDS - started))s"
}

# toolchain_build BIN_DIR WORK_DIR
toolchain_build() {
  local bin="$1" work="$2" name version module commit meta reported
  toolchain_load_versions
  toolchain_check_go
  mkdir -p "${bin}" "${work}/plugins"
  bin="$(cd "${bin}" && pwd)"
  work="$(cd "${work}" && pwd)"

  module=github.com/hashicorp/packer
  meta="$(GOFLAGS=-mod=mod "${GO:-go}" mod download -json "${module}@v${PACKER_VERSION}" 2>/dev/null || true)"
  commit="$(json_field Hash <<<"${meta}")"
  build_module "${module}" "${PACKER_VERSION}" "${bin}/packer.new" "${work}" \
    "-s -w -X ${module}/version.GitCommit=${commit:-unknown}"
  reported="$("${bin}/packer.new" version | head -n1)"
  [[ "${reported}" == "Packer v${PACKER_VERSION}" ]] || die "built packer reports '${reported}'"
  mv -f "${bin}/packer.new" "${bin}/packer"

  for name in "${PACKER_PLUGINS[@]}"; do
    version="$(plugin_version "${name}")"
    module="github.com/hashicorp/packer-plugin-${name}"
    # Same flags as the plugins' .goreleaser.yml: a release (empty pre-release) version,
    # so `packer plugins install --path` accepts it and required_plugins "= X.Y.Z" matches.
    build_module "${module}" "${version}" "${work}/plugins/packer-plugin-${name}" "${work}" \
      "-s -w -X ${module}/version.Version=${version} -X ${module}/version.VersionPrerelease= -X ${module}/version.VersionMetadata="
    reported="$("${work}/plugins/packer-plugin-${name}" describe)"
    [[ "${reported}" == *"\"version\":\"${version}\""* ]] ||
      die "packer-plugin-${name} describes itself as ${reported}"
  done
}

# toolchain_install PACKER PLUGIN_DIR WORK_DIR — install the built plugins into PLUGIN_DIR.
toolchain_install() {
  local packer="$1" plugins="$2" work="$3" name
  toolchain_load_versions
  mkdir -p "${plugins}"
  for name in "${PACKER_PLUGINS[@]}"; do
    # One version per plugin: drop what an older pin left behind.
    rm -rf "${plugins}/github.com/hashicorp/${name}"
    PACKER_PLUGIN_PATH="${plugins}" CHECKPOINT_DISABLE=1 \
      "${packer}" plugins install --path "${work}/plugins/packer-plugin-${name}" \
      "github.com/hashicorp/${name}" >&2
  done
}

toolchain_main() {
  case "${1:-}" in
    build) [[ $# -eq 3 ]] || die "usage: $0 build BIN_DIR WORK_DIR"; toolchain_build "$2" "$3" ;;
    install) [[ $# -eq 4 ]] || die "usage: $0 install PACKER PLUGIN_DIR WORK_DIR"; toolchain_install "$2" "$3" "$4" ;;
    all)
      [[ $# -eq 4 ]] || die "usage: $0 all BIN_DIR PLUGIN_DIR WORK_DIR"
      toolchain_build "$2" "$4"
      toolchain_install "$2/packer" "$3" "$4"
      ;;
    *) die "usage: $0 build|install|all ..." ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  toolchain_main "$@"
fi
