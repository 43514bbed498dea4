# shellcheck shell=bash
# Environment for the project's tools; source it (after scripts/setup.sh):
#   source scripts/env.sh
# Puts the pinned toolchain first on PATH and keeps Packer/Ansible state inside the work tree.
# Every variable can be overridden by exporting it before sourcing. Sets no shell options.

FACTORY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export FACTORY_ROOT

# Toolchain: Packer (.cache/bin), the Python tools (.cache/venv/bin), Go if installed there.
case ":${PATH}:" in
  *":${FACTORY_ROOT}/.cache/bin:"*) ;;
  *) PATH="${FACTORY_ROOT}/.cache/bin:${FACTORY_ROOT}/.cache/venv/bin:${PATH}" ;;
esac
if [[ -x /usr/local/go/bin/go ]] && [[ ":${PATH}:" != *":/usr/local/go/bin:"* ]]; then
  PATH="${PATH}:/usr/local/go/bin"
fi
export PATH

# Packer: project-local plugins (installed from source by setup.sh, never downloaded),
# download cache, and no version check-point calls home.
export PACKER_PLUGIN_PATH="${PACKER_PLUGIN_PATH:-${FACTORY_ROOT}/.cache/packer-plugins}"
export PACKER_CACHE_DIR="${PACKER_CACHE_DIR:-${FACTORY_ROOT}/.cache/packer-cache}"
export CHECKPOINT_DISABLE="${CHECKPOINT_DISABLE:-1}"

# Ansible: the project's config and roles, no .retry files next to the playbook.
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-${FACTORY_ROOT}/ansible/ansible.cfg}"
export ANSIBLE_ROLES_PATH="${ANSIBLE_ROLES_PATH:-${FACTORY_ROOT}/ansible/roles}"
export ANSIBLE_RETRY_FILES_ENABLED="${ANSIBLE_RETRY_FILES_ENABLED:-False}"
export ANSIBLE_LOCAL_TEMP="${ANSIBLE_LOCAL_TEMP:-${FACTORY_ROOT}/.cache/ansible/tmp}"
# Host key checking: off by default because every machine Ansible reaches here is a
# throwaway build or test VM with freshly generated host keys, reached over a key we just
# generated. Export ANSIBLE_HOST_KEY_CHECKING=True before sourcing for long-lived hosts.
export ANSIBLE_HOST_KEY_CHECKING="${ANSIBLE_HOST_KEY_CHECKING:-False}"
