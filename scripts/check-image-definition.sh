#!/usr/bin/env bash
# Static checks of the image definition and every shell script, with the real tools:
#   packer fmt -check / init (offline) / validate of both builds  (scripts/packer-check.sh)
#   ansible-lint (profile production), ansible-playbook --syntax-check of every image definition
#   (ansible/images/*.yml), probe.sh --validate of every definition's drop-in checks, yamllint
#   ShellCheck on every tracked shell script
# Usage: scripts/check-image-definition.sh   (after scripts/setup.sh)
set -o nounset -o errexit -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
# shellcheck source=scripts/env.sh
source scripts/env.sh

status=0
run() {
  echo "--> $*"
  if ! "$@"; then
    echo "FAILED: $*" >&2
    status=1
  fi
}

run bash scripts/packer-check.sh
for playbook in ansible/images/*.yml; do
  run ansible-playbook --syntax-check -i localhost, -e image_factory_backend=local "${playbook}"
done
(cd ansible && run ansible-lint --offline images plays roles) || status=1
for checks in probe/checks.d/*/; do
  run bash probe/probe.sh --validate --checks-dir "${checks%/}"
done
run yamllint -c .yamllint.yml --strict .
mapfile -t shell_scripts < <(git ls-files -co --exclude-standard -- '*.sh' .ci/run)
run shellcheck -x "${shell_scripts[@]}"
exit "${status}"
