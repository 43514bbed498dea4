#!/usr/bin/env bash
# The README's first command: `npm run factory [-- options]`.
# Installs what the local factory needs (idempotent, cached), then runs the pipeline locally on
# qemu: bake with Packer + Ansible, boot, probe through the guest agent, promote, retention.
# Options are passed to local/cli.ts (see `npm run factory -- --help` in the README).
set -o nounset -o errexit -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

bash scripts/setup.sh
exec node --import tsx local/cli.ts "$@"
