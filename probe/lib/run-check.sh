#!/usr/bin/env bash
# Runs ONE probe check and prints its one-line detail. probe.sh starts it once per check, in its
# own process under `timeout`, so that a hanging check is stopped and the others still run.
#
# Usage: run-check.sh common <name>     a common check (lib/common.sh)
#        run-check.sh dropin <file>     a drop-in check (lib/kinds.sh)
# Exit status: 0 pass, 1 fail, 2 usage error or invalid drop-in.
set -o nounset -o errexit -o pipefail

lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=probe/lib/util.sh
source "${lib}/util.sh"
# shellcheck source=probe/lib/common.sh
source "${lib}/common.sh"
# shellcheck source=probe/lib/kinds.sh
source "${lib}/kinds.sh"

(($# == 2)) || {
  echo 'usage: run-check.sh common <name> | dropin <file>' >&2
  exit 2
}
# The checks are written for a condition context (errexit off): a failing step is a result.
case "$1" in
  common)
    if ! declare -F "check_${2//-/_}" >/dev/null; then
      echo "no common check named $2"
      exit 2
    fi
    if "check_${2//-/_}"; then exit 0; else exit 1; fi
    ;;
  dropin)
    if ! parse_dropin "$2"; then
      echo "invalid drop-in $2: ${dropin_error}"
      exit 2
    fi
    if "kind_${dropin[kind]}"; then exit 0; else exit 1; fi
    ;;
  *)
    echo "run-check.sh: unknown check type $1" >&2
    exit 2
    ;;
esac
