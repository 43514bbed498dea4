#!/bin/sh
# User data of the temporary AWS build instance (cloud-init runs it once at first boot).
# Packer reaches the instance over SSM Session Manager, so the SSM agent must run. Ubuntu
# and Amazon Linux AMIs ship it; the official Debian AMIs do not: install it from the
# regional AWS bucket in that case, the package of the instance's architecture (amd64 for
# x86_64, arm64 for Graviton), as "Manually install SSM Agent on Debian Server instances"
# gives them: https://docs.aws.amazon.com/systems-manager/latest/userguide/agent-install-deb.html
# Everything this leaves behind (cloud-init state, logs) is removed by
# packer/scripts/cleanup.sh; the baseline role manages the agent afterwards.
set -eu

if command -v amazon-ssm-agent >/dev/null 2>&1 || [ -e /snap/amazon-ssm-agent/current ]; then
  exit 0
fi
arch="$(dpkg --print-architecture)"
case "${arch}" in
  amd64 | arm64) ;;
  *)
    echo "aws-user-data: no SSM agent package for Debian architecture ${arch} (expected amd64 or arm64)" >&2
    exit 1
    ;;
esac
imds=http://169.254.169.254/latest
token="$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "${imds}/api/token")"
region="$(curl -fsS -H "X-aws-ec2-metadata-token: ${token}" "${imds}/meta-data/placement/region")"
deb="$(mktemp --suffix=.deb)"
curl -fsSL --retry 5 -o "${deb}" "https://s3.${region}.amazonaws.com/amazon-ssm-${region}/latest/debian_${arch}/amazon-ssm-agent.deb"
dpkg -i "${deb}"
rm -f "${deb}"
systemctl enable --now amazon-ssm-agent
