#!/usr/bin/env bash
# Packs an image's package inventory into a gzip tarball, the input of its SBOM: the package
# managers' databases and the metadata files syft's catalogers read, with the OS release files
# that name the distribution (so package URLs carry distro=debian-12 and the like). No binaries,
# no configuration, nothing of the machine's identity: a few MB at most.
#
# Runs as root in the build machine (packer/build.pkr.hcl, "package inventory", before the
# finalize step), and on the host against a read-only mounted image tree (`--root`, the local
# backend's --image-file import). The SBOM itself is made on the runner/host by sbom.sh, so the
# image carries no SBOM tool and the guest (TCG locally) does no scanning.
#
# What is included (each only when present), with the syft cataloger that reads it
# (https://github.com/anchore/syft, syft/pkg/cataloger):
#   etc/os-release usr/lib/os-release etc/system-release(-cpe) etc/redhat-release
#   etc/alpine-release                                 distribution (syft/linux/identify_release.go)
#   var/lib/dpkg/status var/lib/dpkg/status.d/        dpkg-db-cataloger
#   usr/share/doc/*/copyright                          dpkg licenses
#   var/lib/rpm/ usr/lib/sysimage/rpm/                 rpm-db-cataloger (Amazon Linux: rpmdb.sqlite)
#   lib/apk/db/installed                               apk-db-cataloger
#   */python3*/{site,dist}-packages/*.{dist,egg}-info  python-installed-package-cataloger
#
# Usage: package-inventory.sh [--root DIR] OUTPUT.tar.gz
# Exits 2 on bad usage, 1 when the tree has no package database at all (an SBOM of it would be
# empty, which is never what a golden image is).
set -o nounset -o errexit -o pipefail

usage() {
  printf 'usage: %s [--root DIR] OUTPUT.tar.gz\n' "${0##*/}" >&2
  exit 2
}

root=/
if [[ "${1:-}" == --root ]]; then
  [[ $# -ge 2 ]] || usage
  root="$2"
  shift 2
fi
[[ $# -eq 1 ]] || usage
# Absolute before the cd below.
output="$(realpath -m -- "$1")"
[[ -d "${root}" ]] || {
  printf 'package-inventory: %s is not a directory\n' "${root}" >&2
  exit 2
}

cd "${root}"
shopt -s nullglob
# Relative paths, so the archive extracts into any directory as the image's tree.
candidates=(
  etc/os-release usr/lib/os-release etc/system-release etc/system-release-cpe etc/redhat-release
  etc/alpine-release
  var/lib/dpkg/status var/lib/dpkg/status.d
  usr/share/doc/*/copyright
  var/lib/rpm usr/lib/sysimage/rpm
  lib/apk/db/installed
  usr/lib/python3*/site-packages/*.dist-info usr/lib/python3*/site-packages/*.egg-info
  usr/lib/python3/dist-packages/*.dist-info usr/lib/python3/dist-packages/*.egg-info
  usr/local/lib/python3*/site-packages/*.dist-info usr/local/lib/python3*/dist-packages/*.dist-info
)
paths=()
for path in "${candidates[@]}"; do
  if [[ -e "${path}" || -L "${path}" ]]; then paths+=("${path}"); fi
done

databases=0
for path in var/lib/dpkg/status var/lib/dpkg/status.d var/lib/rpm usr/lib/sysimage/rpm lib/apk/db/installed; do
  if [[ -e "${path}" ]]; then databases=$((databases + 1)); fi
done
if [[ "${databases}" -eq 0 ]]; then
  printf 'package-inventory: no package database (dpkg, rpm or apk) under %s\n' "${root}" >&2
  exit 1
fi

# Owner and mode are not needed to read the files back: the archive is plain and readable by
# the (unprivileged) build user that downloads it.
tar --create --gzip --file "${output}" --owner=0 --group=0 --numeric-owner -- "${paths[@]}"
chmod 0644 "${output}"
printf 'package-inventory: %s paths from %s into %s (%s bytes)\n' \
  "${#paths[@]}" "${root}" "${output}" "$(stat -c %s "${output}")" >&2
