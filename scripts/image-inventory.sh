#!/usr/bin/env bash
# The package inventory of a disk image that was not baked here (the local backend's
# `--image-file`): its root filesystem is attached read-only and packed by the same
# packer/scripts/package-inventory.sh a bake runs in the build machine, so an imported image gets
# an SBOM made exactly like a baked one (packer/scripts/sbom.sh on the result).
#
# Steps: `qemu-img convert` to a sparse raw file in a temporary directory, `sfdisk --json` to
# find the Linux partitions, each attached with `losetup --read-only --offset --sizelimit` and
# mounted read-only (`-o ro,noload`: ext4 replays no journal) until one holds a package database.
# Everything is undone on exit, including on SIGINT/SIGTERM.
#
# Usage: scripts/image-inventory.sh DISK OUTPUT.tar.gz
# Requires root (losetup, mount): run as root or with password-less sudo.
# Exits 2 on bad usage, 1 when no partition of DISK holds a package database.
set -o nounset -o errexit -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# shellcheck source=scripts/lib/common.sh
source "${ROOT}/scripts/lib/common.sh"
LOG_PREFIX=image-inventory

if [[ $# -ne 2 ]]; then
  log "usage: scripts/image-inventory.sh DISK OUTPUT.tar.gz"
  exit 2
fi
disk="$(realpath -e -- "$1")" || die "no disk image at $1"
output="$(realpath -m -- "$2")"
if [[ "${EUID}" -ne 0 ]]; then
  exec sudo -n -- "${BASH_SOURCE[0]}" "${disk}" "${output}"
fi

work="$(mktemp -d)"
loop=""
mounted=""
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
  if [[ -n "${mounted}" ]]; then umount "${mounted}" 2>/dev/null || umount -l "${mounted}" || true; fi
  if [[ -n "${loop}" ]]; then losetup -d "${loop}" 2>/dev/null || true; fi
  rm -rf "${work}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

raw="${work}/disk.raw"
qemu-img convert -O raw "${disk}" "${raw}"
mkdir "${work}/root"
# start and size in sectors of each partition whose type is Linux (MBR 83, GPT Linux filesystem).
mapfile -t partitions < <(sfdisk --json "${raw}" | python3 -c '
import json, sys
table = json.load(sys.stdin)["partitiontable"]
sector = table.get("sectorsize", 512)
for part in table.get("partitions", []):
    if part.get("type", "").lower() in ("83", "0fc63daf-8483-4772-8e79-3d69d8477de4"):
        print(part["start"] * sector, part["size"] * sector)
')
[[ ${#partitions[@]} -gt 0 ]] || die "${disk} has no Linux partition (MBR type 83 or GPT Linux filesystem)"

for entry in "${partitions[@]}"; do
  read -r offset size <<<"${entry}"
  loop="$(losetup --read-only --find --show --offset "${offset}" --sizelimit "${size}" "${raw}")"
  if mount -o ro,noload "${loop}" "${work}/root" 2>/dev/null || mount -o ro "${loop}" "${work}/root" 2>/dev/null; then
    mounted="${work}/root"
    if bash "${ROOT}/packer/scripts/package-inventory.sh" --root "${work}/root" "${output}" 2>"${work}/inventory.err"; then
      cat "${work}/inventory.err" >&2
      exit 0
    fi
    umount "${mounted}"
    mounted=""
  fi
  losetup -d "${loop}"
  loop=""
done
die "no partition of ${disk} holds a package database (dpkg, rpm or apk)"
