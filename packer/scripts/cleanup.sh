#!/usr/bin/env bash
# Removes what makes the build machine an individual and what the bake left behind, so that
# every instance launched from the image starts fresh. Runs as root on the build machine as
# the last provisioning step (build.pkr.hcl, "finalize"), followed in the same root process
# by validate-image.sh, which fails the build if anything removed here is still there.
#
# Environment:
#   FACTORY_BUILD_USER  the temporary user Packer logged in as; deleted here (required)
#   FACTORY_BACKEND     aws | local (informational)
#
# The build user is deleted while its SSH connection is still open: `userdel --force` does
# not need the user to be logged out, this process already runs as root, and the open
# connection survives. Nothing after this step needs the user (see build.pkr.hcl).
set -o nounset -o errexit -o pipefail

STAGING_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly STAGING_DIR
readonly BUILD_USER="${FACTORY_BUILD_USER:?FACTORY_BUILD_USER must name the build user}"

log() { printf 'cleanup: %s\n' "$*" >&2; }

[[ "$(id -u)" -eq 0 ]] || { log "must run as root"; exit 1; }

# home_dirs — home directories of every account, plus /root.
home_dirs() {
  { printf '/root\n'; cut -d: -f6 /etc/passwd; } | sort -u | while read -r dir; do
    [[ -n "${dir}" && "${dir}" != / && -d "${dir}" ]] && printf '%s\n' "${dir}"
  done
}

# ---- package manager caches ------------------------------------------------------------
log "package caches"
if command -v apt-get >/dev/null 2>&1; then
  apt-get -q clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
fi
# The bake-only apt setting (packer/locals.pkr.hcl): instances get apt's defaults.
rm -f /etc/apt/apt.conf.d/99image-factory-bake
if command -v dnf >/dev/null 2>&1; then
  dnf -q clean all || true
  rm -rf /var/cache/dnf/*
fi

# ---- cloud-init: instance state, logs and the seed, so the next boot is a first boot ---
if command -v cloud-init >/dev/null 2>&1; then
  log "cloud-init state"
  cloud-init clean --logs --seed
fi
rm -rf /var/lib/cloud/instances/* /var/lib/cloud/instance /var/lib/cloud/data/* /var/lib/cloud/seed/*
rm -f /var/log/cloud-init.log /var/log/cloud-init-output.log

# ---- machine identity ------------------------------------------------------------------
log "machine-id, host keys, hostname, random seed, leases"
# Emptied, not deleted: an empty file makes systemd generate a new id at boot, while a
# missing one can leave early-boot units with a read-only /etc unable to create it.
truncate -s 0 /etc/machine-id
if [[ -e /var/lib/dbus/machine-id && ! -L /var/lib/dbus/machine-id ]]; then
  rm -f /var/lib/dbus/machine-id
  ln -s /etc/machine-id /var/lib/dbus/machine-id
fi
rm -f /etc/ssh/ssh_host_*
rm -f /var/lib/systemd/random-seed
# The build machine's name (cloud-init wrote it): instances get theirs at first boot.
printf 'localhost\n' >/etc/hostname
rm -f /var/lib/dhcp/*.leases /var/lib/dhclient/*.leases /var/lib/NetworkManager/*.lease
# Host keys are regenerated at boot by cloud-init; this drop-in makes sshd independent of it.
for unit in ssh sshd; do
  if [[ -f "/lib/systemd/system/${unit}.service" || -f "/usr/lib/systemd/system/${unit}.service" ]]; then
    mkdir -p "/etc/systemd/system/${unit}.service.d"
    printf '%s\n' '# image factory: host keys are removed from the image; create them on first start.' \
      '[Service]' 'ExecStartPre=/usr/bin/ssh-keygen -A' \
      >"/etc/systemd/system/${unit}.service.d/10-image-factory-host-keys.conf"
  fi
done

# ---- the build user ----------------------------------------------------------------------
if [[ "${BUILD_USER}" == root ]]; then
  log "refusing to delete root"
  exit 1
fi
if getent passwd "${BUILD_USER}" >/dev/null; then
  uid="$(id -u "${BUILD_USER}")"
  if [[ "${uid}" -lt 1000 ]]; then
    log "refusing to delete system account ${BUILD_USER} (uid ${uid})"
    exit 1
  fi
  log "deleting build user ${BUILD_USER}"
  # --force: the user still owns this SSH session's processes; they keep running.
  userdel --force --remove "${BUILD_USER}"
fi
if getent group "${BUILD_USER}" >/dev/null; then
  groupdel "${BUILD_USER}" || true
fi
rm -rf "/home/${BUILD_USER:?}" "/var/mail/${BUILD_USER}" "/var/spool/mail/${BUILD_USER}" \
  "/var/spool/cron/crontabs/${BUILD_USER}" "/var/lib/sudo/lectured/${BUILD_USER}"
# Its sudo rule (cloud-init writes /etc/sudoers.d/90-cloud-init-users).
for file in /etc/sudoers.d/*; do
  [[ -f "${file}" ]] || continue
  if grep -Eq "^[[:space:]]*${BUILD_USER}[[:space:]]" "${file}"; then
    sed -i -E "/^[[:space:]]*${BUILD_USER}[[:space:]]/d" "${file}"
    grep -Eq '^[[:space:]]*[^#[:space:]]' "${file}" || rm -f "${file}"
  fi
done

# ---- keys and traces in every home ------------------------------------------------------
log "authorized_keys, shell history, tool caches"
while read -r home; do
  rm -f "${home}/.ssh/authorized_keys" "${home}/.ssh/authorized_keys2"
  rm -f "${home}"/.bash_history "${home}"/.zsh_history "${home}"/.python_history \
    "${home}"/.lesshst "${home}"/.viminfo "${home}"/.wget-hsts "${home}"/.sudo_as_admin_successful
  rm -rf "${home}/.ansible" "${home}/.cache/pip"
done < <(home_dirs)
find / -xdev \( -name authorized_keys -o -name authorized_keys2 \) -path '*/.ssh/*' -type f -delete 2>/dev/null || true

# ---- logs and temporary files -----------------------------------------------------------
log "logs and temporary files"
find /var/log -type f \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' \) -delete
find /var/log -type f -exec truncate -s 0 {} +
rm -rf /var/log/journal/*
find /tmp /var/tmp -mindepth 1 -maxdepth 1 ! -path "${STAGING_DIR}" -exec rm -rf {} +

# ---- hand back free blocks (smaller snapshots / qcow2) -----------------------------------
sync
fstrim --all >/dev/null 2>&1 || true
log "done"
