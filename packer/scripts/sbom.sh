#!/usr/bin/env bash
# Makes an image's SBOM from its package inventory (package-inventory.sh's tarball): a
# CycloneDX 1.5 JSON document written by syft. Runs on the Packer host (the Fargate runner on
# AWS, this machine locally), never in the image.
#
# CycloneDX 1.5 because Amazon Inspector's ScanSbom takes exactly that format (Amazon Inspector
# API reference, "ScanSbom": "The SBOM must be in CycloneDX 1.5 format";
# https://docs.aws.amazon.com/inspector/v2/APIReference/API_scan_ScanSbom.html), and syft writes
# it with `-o cyclonedx-json@1.5` (syft's output formats: `syft convert --help`).
#
# Usage: sbom.sh INVENTORY.tar.gz OUTPUT.cdx.json NAME VERSION
#   NAME, VERSION   the SBOM's subject (metadata.component): the pipeline and the build id
# Environment: SYFT   the syft binary (default: syft on PATH)
# Exits 2 on bad usage or a missing syft, 1 when syft fails or finds no package.
set -o nounset -o errexit -o pipefail

log() { printf 'sbom: %s\n' "$*" >&2; }
[[ $# -eq 4 ]] || {
  printf 'usage: %s INVENTORY.tar.gz OUTPUT.cdx.json NAME VERSION\n' "${0##*/}" >&2
  exit 2
}
inventory="$1" output="$2" name="$3" version="$4"
syft="${SYFT:-syft}"
command -v "${syft}" >/dev/null 2>&1 || {
  log "syft not found (${syft}): locally run scripts/setup.sh; the runner image installs it"
  exit 2
}
[[ -f "${inventory}" ]] || {
  log "no package inventory at ${inventory}"
  exit 2
}

tree="$(mktemp -d)"
trap 'rm -rf "${tree}"' EXIT
tar --extract --gzip --file "${inventory}" --directory "${tree}" --no-same-owner --no-same-permissions
mkdir -p "$(dirname "${output}")"
# No network: no update check (SYFT_CHECK_FOR_APP_UPDATE), nothing else syft fetches for a
# directory source. Packages only (SYFT_FILE_METADATA_SELECTION=none): the inventory's own
# metadata files would otherwise each become a "file" component, and ScanSbom takes at most
# 5000 components. Quiet: the caller's log gets syft's errors only.
SYFT_CHECK_FOR_APP_UPDATE=false SYFT_FILE_METADATA_SELECTION=none "${syft}" scan "dir:${tree}" --quiet \
  --source-name "${name}" --source-version "${version}" \
  --output "cyclonedx-json@1.5=${output}.tmp"
components="$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1])).get("components") or []))' "${output}.tmp")"
if [[ "${components}" -eq 0 ]]; then
  rm -f "${output}.tmp"
  log "syft found no package in ${inventory}"
  exit 1
fi
mv -f "${output}.tmp" "${output}"
log "${output}: ${components} components (CycloneDX 1.5)"
