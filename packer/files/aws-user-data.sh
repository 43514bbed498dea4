#!/bin/sh
# User data of the temporary AWS build instance (cloud-init runs it once at first boot).
# Packer reaches the instance over SSM Session Manager, so the SSM agent must run. Ubuntu
# and Amazon Linux AMIs ship it; the official Debian AMIs do not: install it from the
# regional AWS bucket in that case. Everything this leaves behind (cloud-init state, logs)
# is removed by packer/scripts/cleanup.sh; the baseline role manages the agent afterwards.
set -eu

if command -v amazon-ssm-agent >/dev/null 2>&1 || [ -e /snap/amazon-ssm-agent/current ]; then
  exit 0
fi
imds=http://169.254.169.254/latest
token="$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "${imds}/api/token")"
region="$(curl -fsS -H "X-aws-ec2-metadata-token: ${token}" "${imds}/meta-data/placement/region")"
deb="$(mktemp --suffix=.deb)"
curl -fsSL --retry 5 -o "${deb}" "https://s3.${region}.amazonaws.com/amazon-ssm-${region}/latest/debian_amd64/amazon-ssm-agent.deb"
dpkg -i "${deb}"
rm -f "${deb}"
systemctl enable --now amazon-ssm-agent
