#!/usr/bin/env bash
# Static checks of the image definition (no cloud credentials, no VM): packer fmt, an
# offline packer init (plugins come from scripts/setup.sh), packer validate of both builds
# with placeholder inputs, hadolint of the runner's Dockerfile and shellcheck of every
# shell script of packer/ and scripts/. Ends with an "N passed, N failed" line.
# Usage: scripts/packer-check.sh   (after scripts/setup.sh packer)
set -o nounset -o errexit -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/common.sh
source "${ROOT}/scripts/lib/common.sh"
# shellcheck source=scripts/env.sh
source "${ROOT}/scripts/env.sh"
LOG_PREFIX=packer-check
cd "${ROOT}"

have packer || die "packer not found: run scripts/setup.sh packer"
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT

passed=0
failed=0
check() {
  local name="$1"
  shift
  if "$@" >"${tmp}/out" 2>&1; then
    passed=$((passed + 1))
    log "ok: ${name}"
  else
    failed=$((failed + 1))
    log "FAIL: ${name}"
    sed 's/^/  /' "${tmp}/out" >&2
  fi
}

# Placeholder inputs: a throwaway key and an empty "base image" (validate only stats it).
ssh-keygen -q -t ed25519 -N '' -C packer-check -f "${tmp}/id_ed25519"
: >"${tmp}/base.qcow2"
common=(-var build_id=web-0123456789ab -var pipeline=web -var channel=stable
  -var commit=0123456789abcdef0123456789abcdef01234567 -var execution_name=packer-check)

check "packer fmt -check -recursive packer/" packer fmt -check -diff -recursive packer/
check "packer init packer/ (offline, plugins preinstalled)" packer init packer/
check "packer validate -syntax-only packer/" packer validate -syntax-only packer/
qemu=(-only=qemu.golden "${common[@]}" -var "qemu_base_image=${tmp}/base.qcow2"
  -var "qemu_ssh_private_key_file=${tmp}/id_ed25519")
# Every image definition (ansible/images/<name>.yml), and an unknown one is refused.
for playbook in ansible/images/*.yml; do
  definition="$(basename "${playbook}" .yml)"
  check "packer validate qemu.golden image_definition=${definition}" packer validate "${qemu[@]}" \
    -var "image_definition=${definition}" packer/
done
# The local arm64 option: qemu-system-aarch64, board virt, AAVMF firmware (locals.pkr.hcl).
check "packer validate qemu.golden for arm64" packer validate "${qemu[@]}" \
  -var image_definition=web -var architecture=arm64 packer/
# A layered build (parent_image: the parent's image, its qcow2 as qemu_base_image), on both sources.
check "packer validate qemu.golden layered (parent_image)" packer validate "${qemu[@]}" \
  -var image_definition=web -var parent_image=local-img-0123456789abcdef0 packer/
check "packer validate amazon-ebs.golden layered (source_ami = parent_image)" env -u AWS_PROFILE \
  AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= packer validate -only=amazon-ebs.golden "${common[@]}" \
  -var aws_region=eu-west-1 -var source_ami=ami-0123456789abcdef0 -var parent_image=ami-0123456789abcdef0 \
  -var aws_iam_instance_profile=image-factory-builder packer/
check "packer validate rejects a malformed parent_image" bash -c \
  '! packer validate "$@" -var image_definition=web -var parent_image=base/stable packer/' _ "${qemu[@]}"
check "packer validate rejects an unknown image_definition" bash -c \
  '! packer validate "$@" -var image_definition=no-such-definition packer/' _ "${qemu[@]}"
check "packer validate amazon-ebs.golden (no AWS credentials)" env -u AWS_PROFILE \
  AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= packer validate -only=amazon-ebs.golden "${common[@]}" \
  -var aws_region=eu-west-1 -var source_ami=ami-0123456789abcdef0 -var aws_iam_instance_profile=image-factory-builder packer/
check "packer validate amazon-ebs.golden for arm64 (no AWS credentials)" env -u AWS_PROFILE \
  AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= packer validate -only=amazon-ebs.golden "${common[@]}" \
  -var aws_region=eu-west-1 -var source_ami=ami-0123456789abcdef0 -var aws_iam_instance_profile=image-factory-builder \
  -var architecture=arm64 -var aws_instance_type=t4g.small packer/
check "packer validate rejects an unknown architecture" bash -c \
  '! packer validate -only=amazon-ebs.golden "$@" -var aws_region=eu-west-1 -var source_ami=ami-0123456789abcdef0 -var aws_iam_instance_profile=image-factory-builder -var architecture=aarch64 packer/' \
  _ "${common[@]}"
check "packer validate rejects a malformed source_ami" bash -c \
  '! packer validate -only=amazon-ebs.golden "$@" -var aws_region=eu-west-1 -var source_ami=ami-nothex -var aws_iam_instance_profile=image-factory-builder packer/' \
  _ "${common[@]}"
dockerfile_pins_match() {
  local go_image base_image
  go_image="$(sed -n 's/^RUNNER_GO_IMAGE=//p' tools/versions.env)"
  base_image="$(sed -n 's/^RUNNER_BASE_IMAGE=//p' tools/versions.env)"
  grep -qx "ARG GO_IMAGE=${go_image}" packer/Dockerfile && grep -qx "ARG BASE_IMAGE=${base_image}" packer/Dockerfile
}
check "packer/Dockerfile base images equal tools/versions.env" dockerfile_pins_match
if have hadolint; then
  check "hadolint packer/Dockerfile" hadolint packer/Dockerfile
else
  log "skip: hadolint not installed (scripts/setup.sh python)"
fi
mapfile -t scripts < <(find packer scripts -name '*.sh' -type f | sort)
check "shellcheck (${#scripts[@]} scripts)" shellcheck -x "${scripts[@]}"

printf '%d passed, %d failed\n' "${passed}" "${failed}"
[[ ${failed} -eq 0 ]]
