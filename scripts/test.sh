#!/usr/bin/env bash
# The project's test command (README: `npm test`; CI: .ci/run).
#
# Installs what it needs (scripts/setup.sh, idempotent and cached), then runs every stage in order
# and prints one line per stage with its wall time in seconds, and a closing
# "N passed, N failed" line. Exits non-zero when any stage fails.
#
# Stages can be chosen: `npm test -- lint unit` runs only those (default: all, in the order below).
set -o nounset -o errexit -o pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

all_stages=(setup lint unit statemachine package image-definition integration e2e)
if [[ $# -gt 0 ]]; then stages=("$@"); else stages=("${all_stages[@]}"); fi

stage_setup() { bash scripts/setup.sh; }

# Biome checks TypeScript (JSON, YAML and Markdown are excluded: YAML is yamllint's, stage image-definition).
stage_lint() {
  npx --no-install biome ci .
  npx --no-install tsc --noEmit
}

# With coverage: the thresholds in vitest.config.ts fail the stage when coverage drops.
stage_unit() { npx --no-install vitest run --project unit --coverage; }

stage_statemachine() { npx --no-install vitest run --project statemachine; }

# serverless package offline, then cfn-lint on the generated CloudFormation template.
stage_package() {
  # shellcheck source=scripts/env.sh
  source scripts/env.sh
  npx --no-install serverless package --stage dev --region us-east-1
  cfn-lint .serverless/cloudformation-template-update-stack.json
}

# Packer fmt/validate with the real plugins, Ansible lint/syntax, yamllint, shellcheck; then the
# README walkthrough "Add your own image type" on a copy of the repository, up to the bake.
stage_image-definition() {
  bash scripts/check-image-definition.sh
  npx --no-install vitest run --project image-definition
}

stage_integration() { npx --no-install vitest run --project integration; }

# Verbose: one line per e2e test with its duration (the steps log their own times too).
stage_e2e() { npx --no-install vitest run --project e2e --reporter=verbose; }

passed=0
failed=0
failed_names=()
for stage in "${stages[@]}"; do
  if ! declare -F "stage_${stage}" >/dev/null; then
    echo "test: unknown stage '${stage}' (expected one of: ${all_stages[*]})" >&2
    exit 2
  fi
  echo "==> ${stage}"
  started=${SECONDS}
  # Not inside `if`: bash ignores errexit in a condition, so a failing first command of a stage
  # (biome before tsc, package before cfn-lint) would go unnoticed.
  set +o errexit
  (
    set -o errexit
    "stage_${stage}"
  )
  stage_status=$?
  set -o errexit
  if [[ ${stage_status} -eq 0 ]]; then
    passed=$((passed + 1))
    echo "<== ${stage}: ok ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    failed_names+=("${stage}")
    echo "<== ${stage}: FAILED ($((SECONDS - started)) s)"
    # Without the toolchain nothing after it can be trusted.
    if [[ "${stage}" == setup ]]; then break; fi
  fi
done

if [[ ${failed} -gt 0 ]]; then echo "failed stages: ${failed_names[*]}"; fi
echo "stages: ${passed} passed, ${failed} failed"
[[ ${failed} -eq 0 ]]
