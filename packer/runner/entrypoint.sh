#!/usr/bin/env bash
# Entry point of the Fargate Packer runner (packer/Dockerfile), started by the BakeImage
# state (ecs:runTask.sync). Fetches the source at the requested commit, bakes the build's
# image definition as amazon-ebs.golden and exits with Packer's status. SIGTERM/SIGINT (ECS StopTask) are passed
# on to Packer, which then terminates its build instance and deletes its temporary resources;
# give the task a stopTimeout long enough for that (Fargate allows up to 120 s).
#
# Environment: the state machine's container overrides (statemachines/image-factory.asl.yaml,
# BakeImage) and the task definition (serverless/packer-runner.yml, PackerTaskDefinition):
#   BUILD_ID, PIPELINE, SOURCE_AMI_ID    required (PrepareBuild output)
#   AWS_REGION | AWS_DEFAULT_REGION      required
#   STAGE                                required (task definition): the factory:stage tag
#   Source (the repository whose packer/ and ansible/ are baked), one of:
#     REPOSITORY_URL         git URL: https://… (GitHub), codecommit::<region>://<name>
#                            (git-remote-codecommit, task role credentials) or any URL git
#                            fetches; COMMIT selects the commit
#     SOURCE_BUNDLE_S3_URI   s3://bucket/key of a .tar.gz / .zip of the repository
#     SOURCE_DIR             a directory already holding the repository
#   BUILD_JSON             the whole $.build document (States.JsonToString); COMMIT,
#                          REPOSITORY_URL and IMAGE_DEFINITION default to its `commit`,
#                          `repository` and `imageDefinition` fields
#   IMAGE_DEFINITION       required (from BUILD_JSON): the image definition to bake, the playbook
#                          ansible/images/<name>.yml and the probe's checks.d/<name>/
#   PARENT_IMAGE           from BUILD_JSON `parent.imageId` (layered build): must equal
#                          SOURCE_AMI_ID; Packer's parent_image (only the definition's own roles
#                          run, the AMI is tagged factory:parent-image)
#   COMMIT                 40 hex; verified against the checkout (empty: the default branch's head)
#   GIT_TOKEN_PARAMETER    SSM SecureString with a token for private https:// repositories,
#                          sent as HTTP basic auth (x-access-token) to git only
#   BUILDER_INSTANCE_PROFILE, BUILDER_SUBNET_ID, BUILDER_SECURITY_GROUP_ID
#                          the build instance's instance profile (required by session_manager),
#                          subnet and security group ('' = Packer's defaults)
#   CHANNEL (stable), EXECUTION_NAME (manual), BASE_IMAGE (debian-12), BUILD_DATE (now),
#   KMS_KEY_ID, ROOT_VOLUME_SIZE_GB  optional
#   ARCHITECTURE           from BUILD_JSON `architecture` (default x86_64): Packer's architecture
#   INSTANCE_TYPE          from BUILD_JSON `instanceTypes.builder` (PrepareBuild matched it to the
#                          architecture); empty: Packer's default (x86_64 only)
#   MANIFEST_S3_URI        optional: where to copy packer's manifest.json
#   SBOM_BUCKET            required (task definition; not with PKR_VAR_aws_communicator=none): the bake's SBOM (packer/scripts/sbom.sh,
#                          CycloneDX 1.5) is uploaded to s3://SBOM_BUCKET/sboms/PIPELINE/BUILD_ID.cdx.json
#                          once Packer succeeds; the AMI's factory:sbom tag names that URI. A
#                          successful build without the file fails (exit 2), except a build whose
#                          provisioners are skipped (PKR_VAR_aws_communicator=none, the emulator test)
# Packer also reads PKR_VAR_<name> variables from the environment.
set -o nounset -o errexit -o pipefail

log() { printf 'runner: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}
# build_field NAME — a top-level string field of BUILD_JSON, empty when absent.
build_field() {
  [[ -n "${BUILD_JSON:-}" ]] || return 0
  python3 -c 'import json, os, sys; value = json.loads(os.environ["BUILD_JSON"]).get(sys.argv[1]); print(value if isinstance(value, str) else "")' "$1" ||
    die "BUILD_JSON is not a JSON object"
}
# build_builder_instance_type — BUILD_JSON's instanceTypes.builder, empty when absent.
build_builder_instance_type() {
  [[ -n "${BUILD_JSON:-}" ]] || return 0
  python3 -c 'import json, os; types = json.loads(os.environ["BUILD_JSON"]).get("instanceTypes"); value = types.get("builder") if isinstance(types, dict) else None; print(value if isinstance(value, str) else "")' ||
    die "BUILD_JSON is not a JSON object"
}
# build_parent_image — BUILD_JSON's parent.imageId (a layered build), empty when absent.
build_parent_image() {
  [[ -n "${BUILD_JSON:-}" ]] || return 0
  python3 -c 'import json, os; parent = json.loads(os.environ["BUILD_JSON"]).get("parent"); value = parent.get("imageId") if isinstance(parent, dict) else None; print(value if isinstance(value, str) else "")' ||
    die "BUILD_JSON is not a JSON object"
}
require() {
  local name
  for name in "$@"; do
    [[ -n "${!name:-}" ]] || die "${name} is required"
  done
}

# secure_string NAME — the decrypted value of an SSM SecureString (boto3; no AWS CLI here).
secure_string() {
  python3 - "$1" <<'PY'
import sys, boto3
print(boto3.client("ssm").get_parameter(Name=sys.argv[1], WithDecryption=True)["Parameter"]["Value"])
PY
}

# git_source ARGS… — git with the repository token, if any, as an HTTP header for this call only
# (never in the URL, argv or the environment Packer and Ansible inherit).
git_source() {
  if [[ -n "${git_auth_header:-}" ]]; then
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="${git_auth_header}" git "$@"
  else
    git "$@"
  fi
}

# s3_copy SRC DST — copy between a local path and s3://bucket/key (boto3; no AWS CLI here).
s3_copy() {
  python3 - "$1" "$2" <<'PY'
import sys, boto3
src, dst = sys.argv[1], sys.argv[2]
def split(uri):
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key
s3 = boto3.client("s3")
if src.startswith("s3://"):
    s3.download_file(*split(src), dst)
else:
    s3.upload_file(src, *split(dst))
PY
}

# fetch_source DEST — the repository to bake, into DEST.
fetch_source() {
  local dest="$1" archive
  if [[ -n "${SOURCE_DIR:-}" ]]; then
    log "source from ${SOURCE_DIR}"
    cp -R "${SOURCE_DIR}/." "${dest}/"
  elif [[ -n "${SOURCE_BUNDLE_S3_URI:-}" ]]; then
    log "source from ${SOURCE_BUNDLE_S3_URI}"
    archive="$(mktemp)"
    s3_copy "${SOURCE_BUNDLE_S3_URI}" "${archive}"
    case "${SOURCE_BUNDLE_S3_URI}" in
      *.zip) python3 -m zipfile -e "${archive}" "${dest}" ;;
      *) tar -xzf "${archive}" -C "${dest}" ;;
    esac
    rm -f "${archive}"
  elif [[ -n "${REPOSITORY_URL:-}" ]]; then
    log "source from ${REPOSITORY_URL} at ${COMMIT:-the default branch}"
    local git_auth_header=""
    if [[ -n "${GIT_TOKEN_PARAMETER:-}" && "${REPOSITORY_URL}" == https://* ]]; then
      git_auth_header="Authorization: Basic $(printf 'x-access-token:%s' "$(secure_string "${GIT_TOKEN_PARAMETER}")" | base64 -w0)"
    fi
    git -C "${dest}" init --quiet
    git -C "${dest}" remote add origin "${REPOSITORY_URL}"
    if [[ -n "${COMMIT:-}" ]]; then
      # Fetch just that commit; servers that refuse fetch-by-id get a full fetch instead.
      git_source -C "${dest}" fetch --quiet --depth 1 origin "${COMMIT}" ||
        git_source -C "${dest}" fetch --quiet origin '+refs/heads/*:refs/remotes/origin/*'
      git -C "${dest}" checkout --quiet --detach "${COMMIT}"
    else
      git_source -C "${dest}" fetch --quiet --depth 1 origin HEAD
      git -C "${dest}" checkout --quiet --detach FETCH_HEAD
      COMMIT="$(git -C "${dest}" rev-parse HEAD)"
    fi
    [[ "$(git -C "${dest}" rev-parse HEAD)" == "${COMMIT}" ]] || die "checkout is not at ${COMMIT}"
  else
    die "set SOURCE_BUNDLE_S3_URI, REPOSITORY_URL or SOURCE_DIR"
  fi
  [[ -f "${dest}/packer/build.pkr.hcl" ]] || die "no packer/build.pkr.hcl in the source"
}

packer_pid=""
# forward SIGNAL — pass a stop request on to Packer, which cleans up before exiting.
# shellcheck disable=SC2317 # invoked by the traps below
forward() {
  log "received SIG$1: stopping packer (it deletes the build instance and temporary resources)"
  if [[ -n "${packer_pid}" ]]; then kill -s "$1" "${packer_pid}" 2>/dev/null || true; fi
}

main() {
  require BUILD_ID PIPELINE SOURCE_AMI_ID STAGE
  # A build whose provisioners are skipped makes no SBOM, so it needs no bucket.
  [[ "${PKR_VAR_aws_communicator:-ssh}" == none ]] || require SBOM_BUCKET
  # A build without a commit has no $.build.commit, so the state machine sends the whole build.
  COMMIT="${COMMIT:-$(build_field commit)}"
  REPOSITORY_URL="${REPOSITORY_URL:-$(build_field repository)}"
  IMAGE_DEFINITION="${IMAGE_DEFINITION:-$(build_field imageDefinition)}"
  require IMAGE_DEFINITION
  PARENT_IMAGE="${PARENT_IMAGE:-$(build_parent_image)}"
  ARCHITECTURE="${ARCHITECTURE:-$(build_field architecture)}"
  INSTANCE_TYPE="${INSTANCE_TYPE:-$(build_builder_instance_type)}"
  # PrepareBuild makes a layered build's source its parent image; anything else is a broken request.
  [[ -z "${PARENT_IMAGE}" || "${PARENT_IMAGE}" == "${SOURCE_AMI_ID}" ]] ||
    die "the parent image ${PARENT_IMAGE} is not the source image ${SOURCE_AMI_ID}"

  AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  require AWS_REGION
  # boto3 (SecureString, S3) reads AWS_DEFAULT_REGION; Packer reads AWS_REGION.
  AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION}}"
  export AWS_REGION AWS_DEFAULT_REGION

  local workdir status=0
  workdir="$(mktemp -d)"
  fetch_source "${workdir}"
  cd "${workdir}"
  if [[ ! -f "ansible/images/${IMAGE_DEFINITION}.yml" ]]; then
    local known=(ansible/images/*.yml)
    known=("${known[@]##*/}")
    die "no image definition ${IMAGE_DEFINITION} (ansible/images/${IMAGE_DEFINITION}.yml) at ${COMMIT:-this checkout}; it has: ${known[*]%.yml}"
  fi

  local sbom_uri=""
  [[ -z "${SBOM_BUCKET:-}" ]] || sbom_uri="s3://${SBOM_BUCKET}/sboms/${PIPELINE}/${BUILD_ID}.cdx.json"
  local args=(
    -only=amazon-ebs.golden
    -var "build_id=${BUILD_ID}"
    -var "pipeline=${PIPELINE}"
    -var "stage=${STAGE}"
    -var "source_ami=${SOURCE_AMI_ID}"
    -var "aws_region=${AWS_REGION}"
    -var "channel=${CHANNEL:-stable}"
    -var "commit=${COMMIT:-}"
    -var "execution_name=${EXECUTION_NAME:-manual}"
    -var "base_image=${BASE_IMAGE:-debian-12}"
    -var "image_definition=${IMAGE_DEFINITION}"
    -var "parent_image=${PARENT_IMAGE}"
    -var "architecture=${ARCHITECTURE:-x86_64}"
    -var "build_date=${BUILD_DATE:-}"
    -var "manifest_path=${workdir}/manifest.json"
    -var "sbom_path=${workdir}/sbom.cdx.json"
    -var "sbom_uri=${sbom_uri}"
  )
  [[ -z "${BUILDER_SUBNET_ID:-}" ]] || args+=(-var "aws_subnet_id=${BUILDER_SUBNET_ID}")
  [[ -z "${BUILDER_SECURITY_GROUP_ID:-}" ]] || args+=(-var "aws_security_group_id=${BUILDER_SECURITY_GROUP_ID}")
  [[ -z "${BUILDER_INSTANCE_PROFILE:-}" ]] || args+=(-var "aws_iam_instance_profile=${BUILDER_INSTANCE_PROFILE}")
  [[ -z "${INSTANCE_TYPE:-}" ]] || args+=(-var "aws_instance_type=${INSTANCE_TYPE}")
  [[ -z "${KMS_KEY_ID:-}" ]] || args+=(-var "kms_key_id=${KMS_KEY_ID}")
  [[ -z "${ROOT_VOLUME_SIZE_GB:-}" ]] || args+=(-var "root_volume_size_gb=${ROOT_VOLUME_SIZE_GB}")

  # Plugins are baked into the image (PACKER_PLUGIN_PATH): init only checks them, offline.
  packer init packer/
  packer validate "${args[@]}" packer/

  log "packer build ${BUILD_ID} (${PIPELINE}) from ${SOURCE_AMI_ID}${PARENT_IMAGE:+ (layered on its parent)} at ${COMMIT:-no commit}"
  # exec: $! must be Packer itself, not a subshell that would die on the signal alone.
  (exec packer build -color=false -timestamp-ui "${args[@]}" packer/) &
  packer_pid=$!
  trap 'forward TERM' TERM
  trap 'forward INT' INT
  # `wait` returns early when a trapped signal arrives: keep waiting until Packer is done.
  while :; do
    status=0
    wait "${packer_pid}" || status=$?
    kill -0 "${packer_pid}" 2>/dev/null || break
  done
  trap - TERM INT

  if [[ -f "${workdir}/manifest.json" ]]; then
    cat "${workdir}/manifest.json"
    if [[ -n "${MANIFEST_S3_URI:-}" && ${status} -eq 0 ]]; then
      s3_copy "${workdir}/manifest.json" "${MANIFEST_S3_URI}"
    fi
  fi
  log "packer exited with ${status}"
  if [[ ${status} -eq 0 ]]; then
    if [[ -f "${workdir}/sbom.cdx.json" && -n "${sbom_uri}" ]]; then
      s3_copy "${workdir}/sbom.cdx.json" "${sbom_uri}"
      log "SBOM stored at ${sbom_uri}"
    elif [[ "${PKR_VAR_aws_communicator:-ssh}" == none ]]; then
      log "no SBOM: the provisioners were skipped (aws_communicator=none), so the AMI has no factory:sbom tag"
    else
      die "packer succeeded but wrote no SBOM (${workdir}/sbom.cdx.json); the AMI's factory:sbom tag would point at nothing"
    fi
  fi
  exit "${status}"
}

main "$@"
