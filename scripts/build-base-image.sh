#!/usr/bin/env bash
# Build the local stand-in for the cloud base image (the "source AMI"): a Debian 12 (bookworm)
# cloud-style qcow2 made with debootstrap from deb.debian.org only.
#
# What the image is (x86_64, the default):
#   - 4 GiB virtual disk, MBR, one ext4 partition at 1 MiB (fstab and kernel root= by UUID);
#   - GRUB for BIOS (grub-pc) in the MBR gap, so the image boots on its own (no -kernel/-initrd)
#     and a kernel upgrade inside the guest (update-grub from the kernel postinst hook) still boots;
#   - linux-image-cloud-amd64, systemd, openssh-server, python3, sudo, qemu-guest-agent,
#     cloud-init restricted to NoCloud (datasource_list: [ NoCloud, None ]);
#   - console on ttyS0; no root password; no SSH host keys (cloud-init regenerates them);
#     /etc/machine-id empty (zero bytes); apt pointing to bookworm, bookworm-updates, security.
# With --arch arm64 (the local arm64 option, README "Architectures"), for qemu-system-aarch64 -M virt
# booted by the AAVMF UEFI firmware (Debian's qemu-efi-aarch64):
#   - GPT: an EFI system partition (FAT32, 1 MiB to 128 MiB, /boot/efi in the guest) and the ext4
#     root from 128 MiB; GRUB for arm64-efi (grub-efi-arm64) at the removable-media path
#     \EFI\BOOT\BOOTAA64.EFI, which the firmware boots with no NVRAM boot entry (UEFI 2.x
#     "Removable Media Boot Behavior"), and debconf grub2/force_efi_extra_removable=true so that a
#     grub-efi-arm64 upgrade in the guest (grub-install) keeps writing that path;
#   - linux-image-cloud-arm64; console on ttyAMA0 (the PL011 UART of -M virt);
#   - the root is debootstrapped with --arch=arm64: its maintainer scripts run under qemu-user
#     (qemu-user-static through binfmt_misc, which this script mounts and registers when needed).
#
# Cache: .cache/base/debian-12-<recipe-hash>.qcow2 plus the stable symlink .cache/base/debian-12.qcow2
# (arm64: debian-12-arm64-<recipe-hash>.qcow2 and debian-12-arm64.qcow2).
# The recipe hash is sha256 over this file and the variables below that change the result
# (architecture included), so the image is rebuilt only when the recipe changes (or with --force).
# Debootstrap's .debs are kept in .cache/debootstrap so a rebuild downloads nothing it already has.
#
# Why no partition device: this host's kernel does not scan partitions of loop devices (no
# /dev/loopNp1) and has no nbd. We attach the partition alone as a loop device with an offset, and
# install GRUB the way grub-bios-setup does for an MBR gap: boot.img in the first 440 bytes,
# core.img (grub-mkimage, with an early config that finds / by filesystem UUID) from sector 1.
#
# Usage: sudo scripts/build-base-image.sh [--arch x86_64|arm64] [--force] [--print-path]
#   --arch        the image's architecture (EC2's names): x86_64 (default) or arm64
#   --force       rebuild even when the cached image matches the recipe
#   --print-path  print the cached image path and exit 0 if it is current, 1 if it must be built
#   --prune       after building (or finding) the current image, delete the other images of its
#                 architecture (only when no VM overlay still uses them: check before pruning)
# Environment: FACTORY_CACHE_DIR (default <repo>/.cache), DEBIAN_MIRROR (default http://deb.debian.org/debian)
# Output: the path of the image on the last line of stdout. Logs go to stderr.
# Requires root and: debootstrap qemu-utils fdisk (sfdisk) e2fsprogs util-linux coreutils; for
# arm64 also qemu-user-static, dosfstools and mtools (scripts/setup.sh installs them with
# FACTORY_LOCAL_ARM64=1).
#
# The EFI system partition is written with mtools, not mounted: this host's kernel has no vfat
# (/proc/filesystems), so nothing is mounted at /boot/efi while building; the guest mounts it.
set -o nounset -o errexit -o pipefail

SCRIPT_PATH="$(readlink -f "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "${SCRIPT_PATH}")/.." && pwd)"
readonly SCRIPT_PATH REPO_ROOT
readonly CACHE_DIR="${FACTORY_CACHE_DIR:-${REPO_ROOT}/.cache}"
readonly BASE_DIR="${CACHE_DIR}/base"

readonly SUITE='bookworm'
readonly MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly SECURITY_MIRROR='http://deb.debian.org/debian-security'
readonly DISK_SIZE='4G'
readonly HOSTNAME_DEFAULT='debian'
# The image's packages besides the kernel and GRUB of its architecture (ARCH_PACKAGES below).
readonly COMMON_PACKAGES=(
  systemd systemd-sysv udev dbus
  openssh-server sudo python3 python3-apt
  cloud-init cloud-guest-utils qemu-guest-agent
  ca-certificates ifupdown isc-dhcp-client iproute2 netbase
  e2fsprogs procps less curl locales
)

# Logs go to the original stderr (fd saved here): a trap runs inside the redirections of the
# command it interrupted, and those point at build logs that cleanup deletes.
exec {log_fd}>&2
log() { printf '%s build-base-image: %s\n' "$(date -u +%H:%M:%S)" "$*" >&"${log_fd}"; }
die() {
  log "error: $*"
  exit 1
}

usage() { sed -n '2,/^set -o/p' "${SCRIPT_PATH}" | sed '$d; s/^# \{0,1\}//' >&2; }

arch=x86_64
force=false
print_path=false
prune=false
while (($# > 0)); do
  case "$1" in
    --arch)
      (($# > 1)) || die '--arch needs a value: x86_64 or arm64'
      arch="$2"
      shift
      ;;
    --force) force=true ;;
    --print-path) print_path=true ;;
    --prune) prune=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done

# What differs per architecture. x86_64 keeps the names it had before arm64 existed.
case "${arch}" in
  x86_64)
    readonly NAME='debian-12' DEB_ARCH='amd64' CONSOLE='ttyS0'
    readonly ARCH_PACKAGES=(linux-image-cloud-amd64 grub-pc)
    # One partition, from 1 MiB (the MBR gap before it holds GRUB's core.img).
    readonly ESP_OFFSET_BYTES=0 ESP_SIZE_BYTES=0 PART_OFFSET_BYTES=$((2048 * 512))
    readonly DEB_CACHE_DIR="${CACHE_DIR}/debootstrap"
    ;;
  arm64)
    readonly NAME='debian-12-arm64' DEB_ARCH='arm64' CONSOLE='ttyAMA0'
    readonly ARCH_PACKAGES=(linux-image-cloud-arm64 grub-efi-arm64)
    # GPT: the EFI system partition from 1 MiB to 128 MiB, the root after it.
    readonly ESP_OFFSET_BYTES=$((2048 * 512)) ESP_SIZE_BYTES=$((127 * 1024 * 1024))
    readonly PART_OFFSET_BYTES=$((128 * 1024 * 1024))
    readonly DEB_CACHE_DIR="${CACHE_DIR}/debootstrap-arm64"
    ;;
  *) die "unknown --arch ${arch}: x86_64 or arm64" ;;
esac
readonly APT_CACHE_DIR="${DEB_CACHE_DIR}/apt-archives"
readonly PACKAGES=("${ARCH_PACKAGES[@]}" "${COMMON_PACKAGES[@]}")

recipe_hash() {
  {
    cat "${SCRIPT_PATH}"
    printf '%s\n' "${MIRROR}" "${SUITE}" "${DISK_SIZE}" "${arch}"
  } | sha256sum | cut -c1-12
}

HASH="$(recipe_hash)"
readonly HASH
readonly IMAGE="${BASE_DIR}/${NAME}-${HASH}.qcow2"
readonly LINK="${BASE_DIR}/${NAME}.qcow2"

if [[ "${print_path}" == true ]]; then
  printf '%s\n' "${IMAGE}"
  [[ -f "${IMAGE}" ]]
  exit
fi

link_current() {
  ln -sfn "$(basename "${IMAGE}")" "${LINK}.tmp"
  mv -T "${LINK}.tmp" "${LINK}"
  if [[ "${prune}" == true ]]; then
    local old
    for old in "${BASE_DIR}/${NAME}"-*.qcow2; do
      # Only this architecture's images: debian-12-<hash>, not debian-12-arm64-<hash>.
      [[ "$(basename "${old}")" =~ ^${NAME}-[0-9a-f]{12}\.qcow2$ ]] || continue
      [[ "${old}" == "${IMAGE}" || ! -f "${old}" ]] && continue
      log "pruning ${old}"
      rm -f "${old}" "${old%.qcow2}.json" "${old%.qcow2}.packages.txt"
    done
  fi
}

if [[ "${force}" == false && -f "${IMAGE}" ]]; then
  link_current
  log "up to date: ${IMAGE}"
  printf '%s\n' "${IMAGE}"
  exit 0
fi

[[ "${EUID}" -eq 0 ]] || die 'must run as root (debootstrap, losetup, mount, chroot)'
for tool in debootstrap qemu-img sfdisk partx losetup mkfs.ext4 mount chroot sha256sum flock fstrim; do
  command -v "${tool}" >/dev/null || die "missing tool: ${tool}"
done
if [[ "${arch}" == arm64 ]]; then
  for tool in mkfs.vfat mcopy mmd mdir; do
    command -v "${tool}" >/dev/null || die "missing tool: ${tool} (dosfstools, mtools: FACTORY_LOCAL_ARM64=1 scripts/setup.sh apt)"
  done
fi

# arm64 on an x86_64 host: debootstrap's second stage and every maintainer script run arm64
# binaries, through the kernel's binfmt_misc handing them to qemu-user. Debian's qemu-user-static
# ships the registration as /usr/lib/binfmt.d/qemu-aarch64.conf (systemd-binfmt's format, which is
# the register file's: ":name:type:offset:magic:mask:interpreter:flags"), with flag F, so the
# interpreter is opened now and also works inside the chroot. Without systemd (a container)
# nothing registers it, and binfmt_misc may not even be mounted: do both here (needs root).
register_qemu_aarch64() {
  local binfmt=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [[ -f "${conf}" ]] || die "no ${conf}: install qemu-user-static (FACTORY_LOCAL_ARM64=1 scripts/setup.sh apt)"
  if ! mountpoint -q "${binfmt}"; then
    log "mounting binfmt_misc on ${binfmt}"
    mount -t binfmt_misc binfmt_misc "${binfmt}" || die "cannot mount binfmt_misc on ${binfmt}"
  fi
  if [[ ! -e "${binfmt}/qemu-aarch64" ]]; then
    log "registering qemu-aarch64 with binfmt_misc (${conf})"
    grep -v '^#' "${conf}" | head -n 1 >"${binfmt}/register" || die 'cannot register qemu-aarch64 with binfmt_misc'
  fi
  grep -qx enabled "${binfmt}/qemu-aarch64" || die "binfmt_misc entry qemu-aarch64 is not enabled"
}
if [[ "${arch}" != x86_64 ]]; then
  [[ "$(uname -m)" == aarch64 ]] || register_qemu_aarch64
fi

mkdir -p "${BASE_DIR}" "${DEB_CACHE_DIR}"
# One build at a time per cache directory; a caller that waited may find the image built.
exec {lock_fd}>"${BASE_DIR}/.build.lock"
if ! flock -n "${lock_fd}"; then
  log "waiting for the build that holds ${BASE_DIR}/.build.lock"
  flock -w 3600 "${lock_fd}" || die 'timed out waiting for the other build'
  if [[ "${force}" == false && -f "${IMAGE}" ]]; then
    link_current
    printf '%s\n' "${IMAGE}"
    exit 0
  fi
fi

work="$(mktemp -d "${BASE_DIR}/.build-${HASH}.XXXXXX")"
readonly WORK="${work}"
readonly RAW="${WORK}/disk.raw"
readonly ROOT="${WORK}/root"
loop=''
esp_loop=''
uuid_link=''
created_disk_dir=false

# Kill anything still running inside the chroot (dbus, gpg-agent started by maintainer scripts).
kill_chroot_processes() {
  local proc root
  for proc in /proc/[0-9]*; do
    root="$(readlink "${proc}/root" 2>/dev/null || true)"
    if [[ "${root}" == "${ROOT}" || "${root}" == "${ROOT}/"* ]]; then
      kill -KILL "${proc##*/}" 2>/dev/null || true
    fi
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +o errexit
  if [[ -d "${ROOT}" ]]; then
    kill_chroot_processes
    # Unmount everything below the root, deepest first, then the root itself.
    local -a mounts
    local m
    mapfile -t mounts < <(awk -v r="${ROOT}" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
    for m in "${mounts[@]}"; do
      umount "${m}" 2>/dev/null || umount -l "${m}" || log "warning: could not unmount ${m}"
    done
  fi
  [[ -n "${uuid_link}" ]] && rm -f "${uuid_link}"
  [[ "${created_disk_dir}" == true ]] && rm -rf /dev/disk
  [[ -n "${esp_loop}" ]] && { losetup -d "${esp_loop}" || log "warning: could not detach ${esp_loop}"; }
  [[ -n "${loop}" ]] && { losetup -d "${loop}" || log "warning: could not detach ${loop}"; }
  rm -rf "${WORK}"
  ((rc != 0)) && log "failed (exit ${rc}); cleaned up"
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

in_chroot() { chroot "${ROOT}" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 HOME=/root "$@"; }

write_file() { # write_file PATH MODE < content
  install -D -m "$2" /dev/stdin "${ROOT}$1"
}

started="$(date +%s)"
log "building ${IMAGE} (recipe ${HASH})"

# --- disk: sparse raw file; x86_64: MBR with one bootable Linux partition from 1 MiB to the end;
# arm64: GPT with the EFI system partition (type U) and the root partition (type L) --------------
truncate -s "${DISK_SIZE}" "${RAW}"
if [[ "${arch}" == x86_64 ]]; then
  printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "${RAW}"
else
  printf 'label: gpt\nstart=%d, size=%d, type=U, name="EFI"\nstart=%d, type=L, name="root"\n' \
    "$((ESP_OFFSET_BYTES / 512))" "$((ESP_SIZE_BYTES / 512))" "$((PART_OFFSET_BYTES / 512))" |
    sfdisk --quiet "${RAW}"
fi
disk_bytes="$(stat -c %s "${RAW}")"
# The root partition's size as the table has it: on GPT it ends before the backup header in the
# disk's last sectors (and sfdisk aligns its end), so "the rest of the disk" would be too big and
# the guest kernel would refuse the file system ("block count exceeds size of device").
root_part="$([[ "${arch}" == x86_64 ]] && echo 1 || echo 2)"
read -r root_start root_sectors < <(partx --noheadings --raw -o START,SECTORS -n "${root_part}" "${RAW}")
((root_start * 512 == PART_OFFSET_BYTES)) || die "partition ${root_part} starts at sector ${root_start}, not at ${PART_OFFSET_BYTES} bytes"
loop="$(losetup --find --show --offset "${PART_OFFSET_BYTES}" --sizelimit "$((root_sectors * 512))" "${RAW}")"
mkfs.ext4 -q -L rootfs -m 1 "${loop}"
FS_UUID="$(blkid -s UUID -o value "${loop}")"
readonly FS_UUID
[[ -n "${FS_UUID}" ]] || die "no filesystem UUID on ${loop}"
mkdir -p "${ROOT}"
mount "${loop}" "${ROOT}"
ESP_UUID=''
if ((ESP_SIZE_BYTES > 0)); then
  esp_loop="$(losetup --find --show --offset "${ESP_OFFSET_BYTES}" --sizelimit "${ESP_SIZE_BYTES}" "${RAW}")"
  mkfs.vfat -F 32 -n EFI "${esp_loop}" >/dev/null
  ESP_UUID="$(blkid -s UUID -o value "${esp_loop}")"
  [[ -n "${ESP_UUID}" ]] || die "no filesystem UUID on ${esp_loop}"
fi
readonly ESP_UUID

# --- debootstrap: a minimal base; the packages come next through apt's real resolver --------------
# (debootstrap --include does not resolve virtual packages, e.g. cloud-init → python3-cryptography
# → python3-cffi-backend-api-min.)
log "debootstrap ${SUITE} minbase ${DEB_ARCH} (packages cached in ${DEB_CACHE_DIR})"
debootstrap --arch="${DEB_ARCH}" --variant=minbase --components=main --cache-dir="${DEB_CACHE_DIR}" \
  "${SUITE}" "${ROOT}" "${MIRROR}" >"${WORK}/debootstrap.log" 2>&1 || {
  tail -n 40 "${WORK}/debootstrap.log" >&2
  [[ -f "${ROOT}/debootstrap/debootstrap.log" ]] && tail -n 40 "${ROOT}/debootstrap/debootstrap.log" >&2
  die 'debootstrap failed'
}

mount -t proc proc "${ROOT}/proc"
mount -t sysfs sysfs "${ROOT}/sys"
mount --bind /dev "${ROOT}/dev"
mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts "${ROOT}/dev/pts"
[[ -z "${esp_loop}" ]] || mkdir -p "${ROOT}/boot/efi"
# Maintainer scripts must not start services in the chroot.
write_file /usr/sbin/policy-rc.d 0755 <<<$'#!/bin/sh\nexit 101'
# No fsync per unpacked file while building (removed again before the image is generalised):
# a crash loses the whole build anyway, and under qemu-user every file costs more.
write_file /etc/dpkg/dpkg.cfg.d/90-build-only-unsafe-io 0644 <<<'force-unsafe-io'

# --- apt: bookworm + updates + security; upgrade the base, install the image's packages ----------
rm -f "${ROOT}/etc/apt/sources.list"
write_file /etc/apt/sources.list.d/debian.sources 0644 <<EOF
Types: deb
URIs: ${MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${SECURITY_MIRROR}
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat /etc/resolv.conf >"${ROOT}/etc/resolv.conf"
mkdir -p "${APT_CACHE_DIR}/partial"
mount --bind "${APT_CACHE_DIR}" "${ROOT}/var/cache/apt/archives"
# GRUB is installed by hand below; until then its postinst must not try to install it anywhere.
if [[ "${arch}" == x86_64 ]]; then
  printf 'grub-pc grub-pc/install_devices multiselect\ngrub-pc grub-pc/install_devices_empty boolean true\n' |
    in_chroot debconf-set-selections
else
  # grub-efi-arm64's postinst runs grub-install only when the ESP already holds Debian's GRUB
  # (EFI/debian): not yet. In the guest it will, and then also to the removable-media path and
  # without touching NVRAM (the image has no boot entry of its own).
  printf '%s\n' 'grub-efi-arm64 grub2/force_efi_extra_removable boolean true' \
    'grub-efi-arm64 grub2/update_nvram boolean false' | in_chroot debconf-set-selections
fi
log "apt install ${#PACKAGES[@]} packages (+ upgrade from updates, security)"
in_chroot apt-get -q update >"${WORK}/apt.log" 2>&1
{
  in_chroot apt-get -q -y -o Dpkg::Options::=--force-confold dist-upgrade &&
    in_chroot apt-get -q -y -o Dpkg::Options::=--force-confold --no-install-recommends install "${PACKAGES[@]}"
} >>"${WORK}/apt.log" 2>&1 || {
  tail -n 40 "${WORK}/apt.log" >&2
  die 'apt-get failed'
}
umount "${ROOT}/var/cache/apt/archives"

# --- system configuration -------------------------------------------------------------------------
write_file /etc/fstab 0644 <<EOF
# <file system>  <mount point>  <type>  <options>  <dump>  <pass>
UUID=${FS_UUID}  /  ext4  errors=remount-ro,discard  0  1
EOF
# nofail and no fsck pass: the image has no fsck.vfat (dosfstools), and a missing ESP must not
# stop the boot; it is only needed when GRUB is reinstalled.
[[ -z "${ESP_UUID}" ]] || printf 'UUID=%s  /boot/efi  vfat  umask=0077,nofail  0  0\n' "${ESP_UUID}" >>"${ROOT}/etc/fstab"
printf '%s\n' "${HOSTNAME_DEFAULT}" >"${ROOT}/etc/hostname"
printf 'LANG=C.UTF-8\n' >"${ROOT}/etc/default/locale"
write_file /etc/hosts 0644 <<EOF
127.0.0.1 localhost
127.0.1.1 ${HOSTNAME_DEFAULT}
::1 localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
EOF
# cloud-init writes the NIC stanza (fallback DHCP on the first NIC) into interfaces.d.
write_file /etc/network/interfaces 0644 <<'EOF'
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback
EOF

# cloud-init: NoCloud only (seed volume labelled cidata), None as the fallback.
write_file /etc/cloud/cloud.cfg.d/90_dpkg.cfg 0644 <<'EOF'
# Set by scripts/build-base-image.sh: the local factory seeds instances with a NoCloud volume.
datasource_list: [ NoCloud, None ]
EOF
write_file /etc/cloud/cloud.cfg.d/10_factory.cfg 0644 <<'EOF'
# Set by scripts/build-base-image.sh.
# Host keys are not in the image: generate fresh ones at first boot.
ssh_deletekeys: true
ssh_genkeytypes: [ ed25519, ecdsa ]
# /etc/hosts from cloud-init's template, so the instance's hostname resolves (sudo needs it).
manage_etc_hosts: true
# The locale the image already has (cloud-init's default en_US.UTF-8 is not generated).
locale: C.UTF-8
# No root password and no root SSH login.
disable_root: true
ssh_pwauth: false
EOF

# GRUB defaults: serial + VGA console, short timeout, predictable for a headless VM. On arm64 the
# firmware's console already is the serial port (AAVMF on -M virt), so GRUB uses the EFI console.
if [[ "${arch}" == x86_64 ]]; then
  grub_terminal='GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"'
else
  grub_terminal='GRUB_TERMINAL=console'
fi
write_file /etc/default/grub.d/10-factory.cfg 0644 <<EOF
# Set by scripts/build-base-image.sh.
GRUB_TIMEOUT=1
GRUB_TIMEOUT_STYLE=menu
GRUB_CMDLINE_LINUX="console=tty0 console=${CONSOLE},115200n8"
GRUB_CMDLINE_LINUX_DEFAULT=""
${grub_terminal}
GRUB_DISABLE_OS_PROBER=true
EOF

in_chroot systemctl enable ssh.service >/dev/null 2>&1
in_chroot systemctl enable cloud-init-local.service cloud-init.service cloud-config.service \
  cloud-final.service >/dev/null 2>&1
# qemu-guest-agent has no [Install]: udev starts it when the org.qemu.guest_agent.0 port appears.
# Wanting it from multi-user.target as well makes "enabled" explicit and survives a missing udev event.
mkdir -p "${ROOT}/etc/systemd/system/multi-user.target.wants"
ln -sfn /lib/systemd/system/qemu-guest-agent.service \
  "${ROOT}/etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service"

# --- bootloader -----------------------------------------------------------------------------------
# grub-mkconfig writes root=UUID=... only when /dev/disk/by-uuid/<uuid> exists; this host has no udev.
[[ -d /dev/disk ]] || created_disk_dir=true
mkdir -p /dev/disk/by-uuid
if [[ ! -e "/dev/disk/by-uuid/${FS_UUID}" ]]; then
  uuid_link="/dev/disk/by-uuid/${FS_UUID}"
  ln -s "${loop}" "${uuid_link}"
fi
mkdir -p "${ROOT}/boot/grub"
write_file /boot/grub/early.cfg 0644 <<EOF
search.fs_uuid ${FS_UUID} root
set prefix=(\$root)/boot/grub
EOF
if [[ "${arch}" == x86_64 ]]; then
  log 'installing GRUB (i386-pc, MBR gap)'
  cp -r "${ROOT}/usr/lib/grub/i386-pc" "${ROOT}/boot/grub/"
  in_chroot grub-mkimage --format=i386-pc --output=/boot/grub/i386-pc/core.img \
    --config=/boot/grub/early.cfg --prefix=/boot/grub \
    biosdisk part_msdos ext2 search_fs_uuid
else
  # The same early config in an arm64-efi image, at the removable-media path the firmware boots
  # (UEFI spec 3.5.1.1: \EFI\BOOT\BOOT<arch>.EFI, AA64 for AArch64), and as EFI/debian/grubaa64.efi,
  # whose presence makes a grub-efi-arm64 upgrade in the guest run grub-install (its postinst).
  log 'installing GRUB (arm64-efi, EFI system partition)'
  cp -r "${ROOT}/usr/lib/grub/arm64-efi" "${ROOT}/boot/grub/"
  in_chroot grub-mkimage --format=arm64-efi --output=/boot/grub/BOOTAA64.EFI \
    --config=/boot/grub/early.cfg --prefix=/boot/grub \
    part_gpt fat ext2 search_fs_uuid
  # mtools on the disk file at the partition's offset (its "@@offset" syntax, mtools(1)).
  mmd -i "${RAW}@@${ESP_OFFSET_BYTES}" ::/EFI ::/EFI/BOOT ::/EFI/debian
  mcopy -i "${RAW}@@${ESP_OFFSET_BYTES}" "${ROOT}/boot/grub/BOOTAA64.EFI" ::/EFI/BOOT/BOOTAA64.EFI
  mcopy -i "${RAW}@@${ESP_OFFSET_BYTES}" "${ROOT}/boot/grub/BOOTAA64.EFI" ::/EFI/debian/grubaa64.efi
  rm -f "${ROOT}/boot/grub/BOOTAA64.EFI"
fi
rm -f "${ROOT}/boot/grub/early.cfg"
in_chroot grub-editenv /boot/grub/grubenv create
# grub-mkconfig's 10_linux skips every kernel when / is on /dev/loopN ("can't cope with devices
# loop-mounted from files"). Name the device the guest will see; root= still comes out as UUID.
# grub.d is sourced after grub-mkconfig probes, so this overrides only the device name.
write_file /etc/default/grub.d/99-build-only.cfg 0644 <<<"GRUB_DEVICE=/dev/vda$([[ "${arch}" == x86_64 ]] && echo 1 || echo 2)"
in_chroot update-grub >"${WORK}/update-grub.log" 2>&1 || {
  cat "${WORK}/update-grub.log" >&2
  die 'update-grub failed'
}
rm -f "${ROOT}/etc/default/grub.d/99-build-only.cfg"
# grub-probe cannot follow the loop device to its partition table from inside the chroot, so this
# grub.cfg has no "search --fs-uuid" lines; core.img's early config has already set $root by UUID,
# which is all the menu entries need. update-grub in the guest (kernel upgrades) writes the full form.
if ! grep -qE "^\s+linux\s+/boot/vmlinuz-\S+ root=UUID=${FS_UUID} " "${ROOT}/boot/grub/grub.cfg" ||
  grep -q 'root=/dev/' "${ROOT}/boot/grub/grub.cfg"; then
  grep -E 'search|linux' "${ROOT}/boot/grub/grub.cfg" >&2
  cat "${WORK}/update-grub.log" >&2
  die 'grub.cfg does not boot / by UUID'
fi
if [[ "${arch}" == x86_64 ]]; then
  core_bytes="$(stat -c %s "${ROOT}/boot/grub/i386-pc/core.img")"
  ((core_bytes <= PART_OFFSET_BYTES - 512)) || die "core.img (${core_bytes} bytes) does not fit the MBR gap"
  # boot.img: first 440 bytes (the partition table and disk signature stay). NOP the floppy drive
  # check at 0x66 like grub-bios-setup does for hard disks. Its kernel sector (0x5c) is already 1.
  dd if="${ROOT}/usr/lib/grub/i386-pc/boot.img" of="${RAW}" bs=440 count=1 conv=notrunc status=none
  printf '\x90\x90' | dd of="${RAW}" bs=1 seek=$((0x66)) conv=notrunc status=none
  # core.img from sector 1; grub-mkimage already set its block list (start sector 2, length).
  dd if="${ROOT}/boot/grub/i386-pc/core.img" of="${RAW}" bs=512 seek=1 conv=notrunc status=none

  # A grub-pc upgrade in the guest reinstalls GRUB on the first virtio disk.
  printf 'grub-pc grub-pc/install_devices multiselect /dev/vda\ngrub-pc grub-pc/install_devices_empty boolean false\n' |
    in_chroot debconf-set-selections
fi

# --- generalise: what a published base image must not carry ---------------------------------------
log 'generalising'
rm -f "${ROOT}/usr/sbin/policy-rc.d" "${ROOT}/etc/dpkg/dpkg.cfg.d/90-build-only-unsafe-io"
in_chroot passwd --lock root >/dev/null
rm -f "${ROOT}"/etc/ssh/ssh_host_*
: >"${ROOT}/etc/machine-id"
rm -f "${ROOT}/var/lib/dbus/machine-id"
rm -rf "${ROOT}/var/lib/cloud"/* "${ROOT}/var/log/cloud-init"*
in_chroot apt-get -q clean
rm -rf "${ROOT}/var/lib/apt/lists"/* "${ROOT}/var/cache/debconf"/*-old "${ROOT}/debootstrap"
find "${ROOT}/var/log" -type f -exec truncate -s 0 {} +
rm -rf "${ROOT}/tmp"/* "${ROOT}/var/tmp"/* "${ROOT}/root/.bash_history"
: >"${ROOT}/etc/resolv.conf"

# Validate before shipping (fail the build if any of it remains).
[[ -f "${ROOT}/etc/machine-id" && ! -s "${ROOT}/etc/machine-id" ]] || die 'machine-id not empty'
compgen -G "${ROOT}/etc/ssh/ssh_host_*" >/dev/null && die 'ssh host keys remain'
grep -q '^root:[!*]' "${ROOT}/etc/shadow" || die 'root has a password'
compgen -G "${ROOT}/boot/vmlinuz-*" >/dev/null || die 'no kernel in /boot'
compgen -G "${ROOT}/boot/initrd.img-*" >/dev/null || die 'no initrd in /boot'
[[ -x "${ROOT}/usr/sbin/qemu-ga" ]] || die 'qemu-guest-agent missing'
if [[ "${arch}" == arm64 ]]; then
  mdir -i "${RAW}@@${ESP_OFFSET_BYTES}" ::/EFI/BOOT/BOOTAA64.EFI >/dev/null || die 'no EFI/BOOT/BOOTAA64.EFI on the EFI system partition'
  [[ "$(in_chroot dpkg --print-architecture)" == arm64 ]] || die 'the root is not arm64'
fi
grep -q '^datasource_list: \[ NoCloud, None \]$' "${ROOT}/etc/cloud/cloud.cfg.d/90_dpkg.cfg" ||
  die 'cloud-init datasource_list is not NoCloud, None'
kernel="$(basename "$(find "${ROOT}/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)")"
# shellcheck disable=SC2016
in_chroot dpkg-query -W -f '${Package} ${Version}\n' >"${WORK}/packages.txt"

# --- unmount, shrink, convert ---------------------------------------------------------------------
kill_chroot_processes
if [[ -n "${esp_loop}" ]]; then
  losetup -d "${esp_loop}"
  esp_loop=''
fi
umount "${ROOT}/dev/pts" "${ROOT}/dev" "${ROOT}/sys" "${ROOT}/proc"
fstrim "${ROOT}" >/dev/null
umount "${ROOT}"
e2fsck -f -p "${loop}" >/dev/null || (($? <= 1)) # 1 = errors corrected
losetup -d "${loop}"
loop=''

log 'converting to qcow2'
qemu-img convert -O qcow2 -o cluster_size=65536 "${RAW}" "${WORK}/image.qcow2"
{
  printf '{\n  "name": "%s-%s",\n  "recipeHash": "%s",\n  "suite": "%s",\n' "${NAME}" "${HASH}" "${HASH}" "${SUITE}"
  printf '  "architecture": "%s",\n' "${arch}"
  printf '  "kernel": "%s",\n  "rootFsUuid": "%s",\n  "builtAt": "%s",\n' \
    "${kernel#vmlinuz-}" "${FS_UUID}" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '  "virtualSizeBytes": %s\n}\n' "${disk_bytes}"
} >"${WORK}/image.json"
mv "${WORK}/packages.txt" "${BASE_DIR}/${NAME}-${HASH}.packages.txt"
mv "${WORK}/image.json" "${BASE_DIR}/${NAME}-${HASH}.json"
mv "${WORK}/image.qcow2" "${IMAGE}"
link_current

log "done in $(($(date +%s) - started)) s: ${IMAGE} ($(du -h "${IMAGE}" | cut -f1) on disk, kernel ${kernel#vmlinuz-})"
printf '%s\n' "${IMAGE}"
