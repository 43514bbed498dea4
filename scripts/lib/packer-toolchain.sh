#!/usr/bin/env bash
# Builds Packer and the plugins pinned in tools/versions.env from source (Go module proxy)
# and installs the plugins into a plugin directory; builds syft (the bake's SBOM generator,
# packer/scripts/sbom.sh) the same way. Used by scripts/setup.sh and by the builder stage of
# packer/Dockerfile, so both get byte-for-byte the same recipe.
#
# Usage:
#   packer-toolchain.sh build   BIN_DIR WORK_DIR              # BIN_DIR/packer, WORK_DIR/plugins/*
#   packer-toolchain.sh install PACKER PLUGIN_DIR WORK_DIR    # packer plugins install --path
#   packer-toolchain.sh all     BIN_DIR PLUGIN_DIR WORK_DIR   # both
#   packer-toolchain.sh syft    BIN_DIR WORK_DIR              # BIN_DIR/syft
# Environment: VERSIONS_FILE (default: tools/versions.env of this checkout), GO (default: go),
# TOOLCHAIN_LANES=serial (compile one module at a time), GOCACHE/GOMODCACHE (Go's defaults),
# PHASE_LOG/PHASE_T0 (phase timings, see common.sh).
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
# Compile lanes: the builds of one lane run one after another, so the later one reuses the
# packages the earlier one compiled (GOCACHE; packer and the amazon plugin share about 280
# package versions, the ansible and qemu plugins about 340); lanes run concurrently, so one
# lane's single-threaded stretches (a large package, the link) overlap the other lane's work.
readonly BUILD_LANES=("packer amazon" "ansible qemu")

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

# module_of NAME — Go module of NAME (packer, syft, or a plugin name of PACKER_PLUGINS).
module_of() {
  if [[ "$1" == packer ]]; then
    printf 'github.com/hashicorp/packer\n'
  elif [[ "$1" == syft ]]; then
    printf 'github.com/anchore/syft\n'
  else
    printf 'github.com/hashicorp/packer-plugin-%s\n' "$1"
  fi
}

# version_of NAME — pinned version of NAME (packer, syft or a plugin).
version_of() {
  case "$1" in
    packer) printf '%s\n' "${PACKER_VERSION}" ;;
    syft) printf '%s\n' "${SYFT_VERSION}" ;;
    *) plugin_version "$1" ;;
  esac
}

# main_package_of NAME — the directory of NAME's main package inside its module.
main_package_of() {
  if [[ "$1" == syft ]]; then printf './cmd/syft\n'; else printf '.\n'; fi
}

# go_env COMMAND... — run a go COMMAND the way every step of the recipe runs it: static, local
# toolchain only, go.mod as shipped (-mod=mod: the modules carry no vendor/), module cache
# files left writable so `rm -rf` of a cache under .cache works.
go_env() {
  CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -modcacherw" "${GO:-go}" "$@"
}

# fetch_module NAME WORK_DIR — download NAME's pinned module (checked against sum.golang.org),
# copy it to WORK_DIR/src/NAME (`go build` may rewrite go.sum, and a module cache copy is
# read-only) and download every module its main package needs, so the build that follows only
# compiles. Writes the module's commit hash (Origin.Hash, may be empty) to WORK_DIR/src/NAME.commit.
fetch_module() {
  local name="$1" work="$2" module version meta err dir src
  module="$(module_of "${name}")"
  version="$(version_of "${name}")"
  meta="$(go_env mod download -json "${module}@v${version}")" || true
  err="$(json_field Error <<<"${meta}")"
  [[ -z "${err}" ]] || die "cannot download ${module}@v${version}: ${err}"
  dir="$(json_field Dir <<<"${meta}")"
  [[ -d "${dir}" ]] || die "no source directory for ${module}@v${version}"
  src="${work}/src/${name}"
  rm -rf "${src}"
  mkdir -p "${work}/src"
  cp -R "${dir}" "${src}"
  chmod -R u+w "${src}"
  json_field Hash <<<"${meta}" >"${src}.commit"
  (cd "${src}" && go_env list -deps "$(main_package_of "${name}")" >/dev/null) || die "cannot download the dependencies of ${module}@v${version}"
}

# build_module NAME WORK_DIR OUTPUT — compile NAME's main package (fetched by fetch_module) to
# OUTPUT with the version metadata goreleaser would set, and check the version it reports.
build_module() {
  local name="$1" work="$2" output="$3" module version ldflags reported commit
  module="$(module_of "${name}")"
  version="$(version_of "${name}")"
  commit="$(<"${work}/src/${name}.commit")"
  if [[ "${name}" == packer ]]; then
    ldflags="-s -w -X ${module}/version.GitCommit=${commit:-unknown}"
  elif [[ "${name}" == syft ]]; then
    # As syft's .goreleaser.yaml sets them (main.version without the "v").
    ldflags="-s -w -X main.version=${version} -X main.gitCommit=${commit:-unknown} -X main.gitDescription=v${version}"
  else
    # Same flags as the plugins' .goreleaser.yml: a release (empty pre-release) version,
    # so `packer plugins install --path` accepts it and required_plugins "= X.Y.Z" matches.
    ldflags="-s -w -X ${module}/version.Version=${version} -X ${module}/version.VersionPrerelease= -X ${module}/version.VersionMetadata="
  fi
  log "building ${module}@v${version}"
  (cd "${work}/src/${name}" && go_env build -trimpath -ldflags "${ldflags}" -o "${output}" "$(main_package_of "${name}")") ||
    die "cannot build ${module}@v${version}"
  if [[ "${name}" == packer ]]; then
    reported="$("${output}" version | head -n1)"
    [[ "${reported}" == "Packer v${version}" ]] || die "built packer reports '${reported}'"
  elif [[ "${name}" == syft ]]; then
    reported="$(SYFT_CHECK_FOR_APP_UPDATE=false "${output}" version --output json)"
    [[ "${reported}" == *"\"version\": \"${version}\""* ]] || die "built syft reports ${reported}"
  else
    reported="$("${output}" describe)"
    [[ "${reported}" == *"\"version\":\"${version}\""* ]] || die "packer-plugin-${name} describes itself as ${reported}"
  fi
}

# build_lane WORK_DIR BIN_DIR NAME... — build NAMEs one after another (they share GOCACHE).
build_lane() {
  local work="$1" bin="$2" name output
  shift 2
  for name in "$@"; do
    output="${work}/plugins/packer-plugin-${name}"
    [[ "${name}" != packer ]] || output="${bin}/packer.new"
    phase "packer: build ${name}" build_module "${name}" "${work}" "${output}"
  done
}

# toolchain_build BIN_DIR WORK_DIR — BIN_DIR/packer and WORK_DIR/plugins/packer-plugin-*.
# Two stages: every module is fetched at once (network-bound), then compiled in BUILD_LANES,
# concurrently when there is more than one core (TOOLCHAIN_LANES=serial forces one lane).
toolchain_build() {
  local bin="$1" work="$2" name lane members pids=() names=()
  toolchain_load_versions
  toolchain_check_go
  for lane in "${BUILD_LANES[@]}"; do
    read -ra members <<<"${lane}"
    names+=("${members[@]}")
  done
  [[ "$(printf '%s\n' "${names[@]}" | sort)" == "$(printf '%s\n' packer "${PACKER_PLUGINS[@]}" | sort)" ]] ||
    die "BUILD_LANES (${names[*]}) must name packer and each of PACKER_PLUGINS once"
  mkdir -p "${bin}" "${work}/plugins"
  bin="$(cd "${bin}" && pwd)"
  work="$(cd "${work}" && pwd)"

  for name in packer "${PACKER_PLUGINS[@]}"; do
    phase "packer: fetch ${name}" fetch_module "${name}" "${work}" &
    pids+=($!)
  done
  wait_jobs "${pids[@]}" || die "fetching the Packer modules failed"

  pids=()
  if [[ "${TOOLCHAIN_LANES:-}" == serial || "$(getconf _NPROCESSORS_ONLN)" -lt 2 ]]; then
    build_lane "${work}" "${bin}" "${names[@]}"
  else
    for lane in "${BUILD_LANES[@]}"; do
      read -ra members <<<"${lane}"
      build_lane "${work}" "${bin}" "${members[@]}" &
      pids+=($!)
    done
    wait_jobs "${pids[@]}" || die "building Packer or a plugin failed"
  fi
  mv -f "${bin}/packer.new" "${bin}/packer"
  rm -rf "${work}/src"
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

# syft_build BIN_DIR WORK_DIR — BIN_DIR/syft at SYFT_VERSION (static, CGO off: syft's sqlite
# is modernc.org/sqlite, pure Go).
syft_build() {
  local bin="$1" work="$2"
  toolchain_load_versions
  toolchain_check_go
  mkdir -p "${bin}" "${work}"
  bin="$(cd "${bin}" && pwd)"
  work="$(cd "${work}" && pwd)"
  phase "syft: fetch" fetch_module syft "${work}"
  phase "syft: build" build_module syft "${work}" "${bin}/syft.new"
  mv -f "${bin}/syft.new" "${bin}/syft"
  rm -rf "${work}/src"
}

toolchain_main() {
  case "${1:-}" in
    syft) [[ $# -eq 3 ]] || die "usage: $0 syft BIN_DIR WORK_DIR"; syft_build "$2" "$3" ;;
    build) [[ $# -eq 3 ]] || die "usage: $0 build BIN_DIR WORK_DIR"; toolchain_build "$2" "$3" ;;
    install) [[ $# -eq 4 ]] || die "usage: $0 install PACKER PLUGIN_DIR WORK_DIR"; toolchain_install "$2" "$3" "$4" ;;
    all)
      [[ $# -eq 4 ]] || die "usage: $0 all BIN_DIR PLUGIN_DIR WORK_DIR"
      toolchain_build "$2" "$4"
      toolchain_install "$2/packer" "$3" "$4"
      ;;
    *) die "usage: $0 build|install|all|syft ..." ;;
  esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  toolchain_main "$@"
fi
