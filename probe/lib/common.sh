# shellcheck shell=bash
# The common checks: every image definition gets them, before its own drop-in checks.
# Sourced by probe.sh and lib/run-check.sh (after lib/util.sh); sets no shell options.
#
# Each check_<name> function prints a one-line detail and returns 0 (pass) or 1 (fail). The
# runner runs each in its own process under a timeout (common_timeout).
#
# Tuning (environment, optional):
#   PROBE_CLOUD_INIT_WAIT   seconds to wait for cloud-init to finish (default 300)
#   PROBE_CHECK_TIMEOUT     seconds a check may run (default 30; cloud-init: its wait + 30)

readonly IMDS_URL='http://169.254.169.254/latest/meta-data/'
cloud_init_wait="${PROBE_CLOUD_INIT_WAIT:-300}"
check_timeout="${PROBE_CHECK_TIMEOUT:-30}"

# common_checks BACKEND: the common check names for BACKEND (aws|local), in run order.
common_checks() {
  printf '%s\n' service-ssh service-time-sync
  if [[ "$1" == aws ]]; then echo service-ssm-agent; else echo service-guest-agent; fi
  printf '%s\n' machine-id ssh-host-keys authorized-keys ssh-hardening cloud-init
  if [[ "$1" == aws ]]; then echo imdsv1-refused; fi
}

# common_timeout NAME: seconds the common check NAME may run.
common_timeout() {
  if [[ "$1" == cloud-init ]]; then
    echo $((cloud_init_wait + 30))
  else
    echo "${check_timeout}"
  fi
}

check_service_ssh() {
  local unit
  # Ubuntu 24.04 starts ssh.service on the first connection to ssh.socket.
  if unit="$(unit_active ssh.service sshd.service ssh.socket sshd.socket)"; then
    echo "${unit} active"
  else
    echo 'none of ssh.service, sshd.service, ssh.socket, sshd.socket is active'
    return 1
  fi
}

check_service_time_sync() {
  local unit
  if unit="$(unit_active chrony.service chronyd.service systemd-timesyncd.service)"; then
    echo "${unit} active"
  else
    echo 'none of chrony.service, chronyd.service, systemd-timesyncd.service is active'
    return 1
  fi
}

check_service_ssm_agent() {
  local unit
  if unit="$(unit_active amazon-ssm-agent.service snap.amazon-ssm-agent.amazon-ssm-agent.service)"; then
    echo "${unit} active"
  else
    echo 'neither amazon-ssm-agent.service nor snap.amazon-ssm-agent.amazon-ssm-agent.service is active'
    return 1
  fi
}

check_service_guest_agent() {
  if unit_active qemu-guest-agent.service >/dev/null; then
    echo 'qemu-guest-agent.service active'
  else
    echo "qemu-guest-agent.service $(systemctl is-active qemu-guest-agent.service 2>/dev/null || true)"
    return 1
  fi
}

# systemd writes /etc/machine-id at the first boot of an image whose machine-id was emptied
# (pid 1 generates it, systemd-machine-id-commit.service persists it), so a file older than
# this boot means the image was baked with an identity.
check_machine_id() {
  local id btime written
  if [[ ! -s /etc/machine-id ]]; then
    echo '/etc/machine-id is missing or empty'
    return 1
  fi
  id="$(head -c 64 /etc/machine-id | tr -d '[:space:]')"
  if [[ ! "${id}" =~ ^[0-9a-f]{32}$ ]]; then
    echo "/etc/machine-id holds '${id:0:40}', not a 32-hex-digit id"
    return 1
  fi
  btime="$(boot_time)"
  written="$(mtime /etc/machine-id)"
  if ((written >= btime)); then
    echo "${id} written $((written - btime))s after boot"
  else
    echo "${id} written $((btime - written))s before this boot (baked into the image)"
    return 1
  fi
}

# cloud-init (Debian, Ubuntu) or sshd-keygen (Amazon Linux) generates host keys at first boot.
check_ssh_host_keys() {
  local btime key old=() count=0
  btime="$(boot_time)"
  for key in /etc/ssh/ssh_host_*_key; do
    [[ -e "${key}" ]] || continue
    count=$((count + 1))
    if (($(mtime "${key}") < btime)); then
      old+=("${key}")
    fi
  done
  if ((count == 0)); then
    echo 'no /etc/ssh/ssh_host_*_key files'
    return 1
  fi
  if ((${#old[@]} > 0)); then
    echo "written before this boot: ${old[*]}"
    return 1
  fi
  echo "${count} host keys written at this boot"
}

# Every authorized_keys file must have been written at or after this boot (the launch key,
# installed by cloud-init); one older than the boot was baked into the image.
check_authorized_keys() {
  local btime home file found=() old=() unreadable=()
  btime="$(boot_time)"
  while IFS=: read -r _ _ _ _ _ home _; do
    [[ -n "${home}" && -d "${home}" ]] || continue
    if [[ -d "${home}/.ssh" && ! -x "${home}/.ssh" ]]; then
      unreadable+=("${home}/.ssh")
      continue
    fi
    for file in "${home}/.ssh/authorized_keys" "${home}/.ssh/authorized_keys2"; do
      [[ -e "${file}" ]] || continue
      found+=("${file}")
      if (($(mtime "${file}") < btime)); then
        old+=("${file}")
      fi
    done
  done < <(getent passwd | sort -t: -k6,6 -u)
  if ((${#unreadable[@]} > 0)); then
    echo "cannot search ${unreadable[*]} (run as root)"
    return 1
  fi
  if ((${#old[@]} > 0)); then
    echo "written before this boot (baked): ${old[*]}"
    return 1
  fi
  if ((${#found[@]} == 0)); then
    echo 'no authorized_keys files'
  else
    echo "written at this boot: ${found[*]}"
  fi
}

# The effective sshd settings (sshd -T) refuse passwords and root password logins, whatever the
# hardening role's tuning. sshd -T needs its privilege separation directory, which systemd creates
# only when ssh.service starts: under socket activation (Ubuntu 24.04) /run/sshd may not exist
# before the first connection. Then it is created as ssh.service would (RuntimeDirectory=sshd,
# root 0755, on the /run tmpfs) and sshd -T runs again.
check_ssh_hardening() {
  local sshd effective privsep value key bad=()
  sshd="$(command -v sshd || echo /usr/sbin/sshd)"
  if [[ ! -x "${sshd}" ]]; then
    echo 'sshd is not installed'
    return 1
  fi
  if ! effective="$("${sshd}" -T 2>&1)"; then
    privsep="$(sed -n 's|.*Missing privilege separation directory: \(/run/[A-Za-z0-9_./-]*\).*|\1|p' <<<"${effective}")"
    if [[ -z "${privsep}" ]] || ! install -d -o root -g root -m 0755 "${privsep}" ||
      ! effective="$("${sshd}" -T 2>&1)"; then
      echo "sshd -T failed: $(printf '%s' "${effective}" | tr '\n' ' ' | head -c 200)"
      return 1
    fi
  fi
  for key in passwordauthentication permitemptypasswords kbdinteractiveauthentication; do
    value="$(sshd_setting "${key}" <<<"${effective}")"
    # OpenSSH before 8.7 names keyboard-interactive "challengeresponseauthentication".
    if [[ -z "${value}" && "${key}" == kbdinteractiveauthentication ]]; then
      value="$(sshd_setting challengeresponseauthentication <<<"${effective}")"
    fi
    [[ "${value}" == no ]] || bad+=("${key} ${value:-unset}")
  done
  value="$(sshd_setting permitrootlogin <<<"${effective}")"
  [[ -n "${value}" && "${value}" != yes ]] || bad+=("permitrootlogin ${value:-unset}")
  if ((${#bad[@]} > 0)); then
    echo "sshd -T allows: ${bad[*]}"
    return 1
  fi
  echo "sshd -T: no passwords, no keyboard-interactive, no empty passwords, permitrootlogin ${value}"
}

# sshd_setting KEY: the value of KEY in `sshd -T` output read from stdin (empty when absent).
sshd_setting() {
  awk -v key="$1" '$1 == key { print $2; exit }'
}

check_cloud_init() {
  local json status errors summary
  if ! command -v cloud-init >/dev/null 2>&1; then
    echo 'cloud-init is not installed'
    return 1
  fi
  # Bounded wait: the probe may start while cloud-init's final stage is still running.
  timeout "${cloud_init_wait}" cloud-init status --wait >/dev/null 2>&1 || true
  json="$(cloud-init status --format json 2>/dev/null)" || true
  if [[ "${json}" == '{'* ]] && command -v python3 >/dev/null 2>&1; then
    summary="$(printf '%s' "${json}" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
errors = doc.get("errors") or []
recoverable = doc.get("recoverable_errors") or {}
print(doc.get("status", "unknown"))
print(len(errors))
print("; ".join(str(e) for e in errors)[:300] or "-")
print(sum(len(v) for v in recoverable.values()) if isinstance(recoverable, dict) else 0)
')" || summary=''
    if [[ -n "${summary}" ]]; then
      local lines
      mapfile -t lines <<<"${summary}"
      status="${lines[0]}"
      errors="${lines[1]}"
      if [[ "${status}" == "done" && "${errors}" == 0 ]]; then
        echo "status done, no errors (${lines[3]} recoverable warnings)"
        return 0
      fi
      echo "status ${status}, ${errors} errors: ${lines[2]}"
      return 1
    fi
  fi
  # Older cloud-init without --format json: read "status: done" from --long.
  summary="$(cloud-init status --long 2>&1)" || true
  status="$(printf '%s\n' "${summary}" | awk -F': ' '$1 == "status" { print $2; exit }')"
  if [[ "${status}" == "done" ]] && ! printf '%s\n' "${summary}" | grep -qiE '^errors?: *\[?[^] ]'; then
    echo 'status done, no errors'
  else
    echo "status ${status:-unknown}: $(printf '%s' "${summary}" | tr '\n' ' ' | head -c 300)"
    return 1
  fi
}

# With IMDSv2 required, a request without a session token is refused with 401.
check_imdsv1_refused() {
  local reply status
  reply="$(http_get "${IMDS_URL}")"
  status="${reply%% *}"
  if [[ "${status}" == 401 ]]; then
    echo "token-less GET ${IMDS_URL} -> 401"
  else
    echo "token-less GET ${IMDS_URL} -> ${status:-no answer}, expected 401 (IMDSv1 must be disabled)"
    return 1
  fi
}
