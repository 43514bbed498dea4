# Input variables of the golden image build. The pipeline passes them with -var (see
# packer/runner/entrypoint.sh and the local runner); names and formats follow docs/design.md.

# ---------------------------------------------------------------------------------------
# Build identity (both backends): recorded in tags and in the manifest's custom_data.
# ---------------------------------------------------------------------------------------

variable "pipeline" {
  type        = string
  description = "Pipeline name (factory:pipeline tag; IAM conditions key on it). 1-32 chars: a-z, 0-9, '-', starting with a letter."
  default     = "web"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.pipeline))
    error_message = "The pipeline must be 1-32 characters: lowercase letters, digits and '-', starting with a letter."
  }
}

variable "stage" {
  type        = string
  description = "Deployment stage that owns the image (factory:stage tag on the builder, its volumes, key pair, security group, the AMI and its snapshots; IAM conditions key on it). The runner passes the task definition's STAGE; 'local' for runs outside a stack."
  default     = "local"

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,64}$", var.stage))
    error_message = "The stage must be 1-64 characters: letters, digits and '-'."
  }
}

variable "build_id" {
  type        = string
  description = "Build id from PrepareBuild: '<pipeline>-<12 hex>' (functions/commons/core/build-key.ts). Names the image and the factory:build-id tag."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,49}-[0-9a-f]{12}$", var.build_id))
    error_message = "The build_id must look like '<pipeline>-<12 lowercase hex>', e.g. 'web-0123456789ab'."
  }
}

variable "channel" {
  type        = string
  description = "Channel the build is meant for (e.g. 'stable'); recorded in the manifest. The image itself is tagged factory:channel=candidate until promoted."
  default     = "stable"

  validation {
    condition = (
      can(regex("^[a-z][a-z0-9-]{0,31}$", var.channel))
      && !contains(["candidate", "retired", "rolled-back"], var.channel)
      && !can(regex("^previous-", var.channel))
    )
    error_message = "The channel must be 1-32 characters (a-z, 0-9, '-', starting with a letter) and not a reserved value (candidate, retired, rolled-back, previous-*)."
  }
}

variable "commit" {
  type        = string
  description = "Git commit (40 lowercase hex) of the image definition being built; empty when the build is not tied to a commit."
  default     = ""

  validation {
    condition     = can(regex("^([0-9a-f]{40})?$", var.commit))
    error_message = "The commit must be a full 40-character lowercase hex SHA-1, or empty."
  }
}

variable "execution_name" {
  type        = string
  description = "Step Functions execution name (factory:execution tag); 'manual' for runs outside the pipeline."
  default     = "manual"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}$", var.execution_name))
    error_message = "The execution_name must be 1-80 characters from [A-Za-z0-9_-]."
  }
}

variable "build_date" {
  type        = string
  description = "Build date, ISO 8601 / RFC 3339 UTC (e.g. the execution's startedAt). Empty: the time Packer starts."
  default     = ""

  validation {
    condition     = var.build_date == "" || can(formatdate("YYYY", var.build_date))
    error_message = "The build_date must be an RFC 3339 timestamp such as 2026-01-31T12:00:00Z, or empty."
  }
}

variable "base_image" {
  type        = string
  description = "Base image catalog key (functions/commons/core/base-images.ts): selects the AWS login user, root device name and, for manual runs, the source AMI lookup."
  default     = "debian-12"

  validation {
    condition     = contains(["ubuntu-24.04", "ubuntu-22.04", "al2023", "debian-12"], var.base_image)
    error_message = "The base_image must be one of: ubuntu-24.04, ubuntu-22.04, al2023, debian-12."
  }
}

variable "architecture" {
  type        = string
  description = "CPU architecture of the image (EC2's name; functions/commons/core/architectures.ts): the source AMI's, and tagged factory:architecture; aws_instance_type must run it. Locally (qemu.golden) it picks the QEMU binary, board and firmware (local.qemu_architectures); qemu_base_image must be of this architecture."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be one of: x86_64, arm64."
  }
}

variable "image_definition" {
  type        = string
  description = "Image definition to bake (functions/commons/core/image-definitions.ts): its playbook ansible/images/<name>.yml and its own probe checks probe/checks.d/<name>/*.check."
  default     = "web"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.image_definition))
    error_message = "The image_definition must be 1-32 characters: lowercase letters, digits and '-', starting with a letter (a file ansible/images/<name>.yml)."
  }
}

variable "parent_image" {
  type        = string
  description = "Layered build: the parent pipeline's promoted image this build bakes from (PrepareBuild's build.parent.imageId; on AWS also source_ami, locally the catalog image whose qcow2 is qemu_base_image). Only the image definition's own roles run (Ansible image_factory_layered=true); the image is tagged factory:parent-image. Empty: a full bake from the base image."
  default     = ""

  validation {
    condition     = can(regex("^(ami-[0-9a-f]{8}([0-9a-f]{9})?|local-img-[0-9a-f]{17})?$", var.parent_image))
    error_message = "The parent_image must be an AMI id (ami-0123456789abcdef0), a local catalog image id (local-img-<17 hex>), or empty."
  }
}

variable "manifest_path" {
  type        = string
  description = "Where the manifest post-processor writes its JSON. Empty: output-packer/manifest.json in the repository (git-ignored by output-*/)."
  default     = ""
}

variable "sbom_path" {
  type        = string
  default     = ""
  description = "Where the bake writes the image's SBOM (CycloneDX 1.5 JSON) on the Packer host; default output-packer/<build_id>.cdx.json."
}

variable "sbom_uri" {
  type        = string
  default     = ""
  description = "Where the SBOM will be stored once the bake succeeds (the runner uploads sbom_path there): the AMI's factory:sbom tag. Empty: no tag (the local backend tags its catalog image itself)."
  validation {
    condition     = var.sbom_uri == "" || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\\.cdx\\.json$", var.sbom_uri))
    error_message = "The sbom_uri must be s3://<bucket>/<key>.cdx.json (or empty)."
  }
}

variable "syft_path" {
  type        = string
  default     = "syft"
  description = "The syft binary on the Packer host that makes the SBOM (the runner image has it on PATH; locally scripts/setup.sh builds .cache/bin/syft)."
}

variable "ansible_extra_arguments" {
  type        = list(string)
  description = "Extra arguments for ansible-playbook (e.g. [\"--tags\", \"web\"] or [\"-vv\"])."
  default     = []
}

# ---------------------------------------------------------------------------------------
# AWS backend (source.amazon-ebs.golden)
# ---------------------------------------------------------------------------------------

variable "aws_region" {
  type        = string
  description = "AWS region of the build. Defaults to $AWS_REGION, then $AWS_DEFAULT_REGION."
  default     = env("AWS_REGION") != "" ? env("AWS_REGION") : env("AWS_DEFAULT_REGION")

  validation {
    condition     = var.aws_region == "" || can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "The aws_region must be a region name such as eu-west-1."
  }
}

variable "source_ami" {
  type        = string
  description = "Source AMI id resolved by PrepareBuild. Empty (manual runs only): the newest AMI of base_image is looked up when the build starts (never at validate time)."
  default     = ""

  validation {
    condition     = var.source_ami == "" || can(regex("^ami-[0-9a-f]{8,17}$", var.source_ami))
    error_message = "The source_ami must look like ami-0123456789abcdef0, or be empty."
  }
}

variable "aws_instance_type" {
  type        = string
  description = "Instance type of the temporary build instance (x86_64)."
  default     = "t3.small"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.aws_instance_type))
    error_message = "The aws_instance_type must be an instance type such as t3.small."
  }
}

variable "aws_subnet_id" {
  type        = string
  description = "Subnet of the build instance; it must reach the SSM endpoints (NAT or VPC endpoints). Empty: default VPC."
  default     = ""

  validation {
    condition     = var.aws_subnet_id == "" || can(regex("^subnet-[0-9a-f]{8,17}$", var.aws_subnet_id))
    error_message = "The aws_subnet_id must look like subnet-0123456789abcdef0, or be empty."
  }
}

variable "aws_iam_instance_profile" {
  type        = string
  description = "Instance profile of the build instance, with SSM core permissions (the stack's BuilderInstanceProfile; the runner passes BUILDER_INSTANCE_PROFILE). Required by amazon-ebs.golden: Session Manager needs it, and Packer creates no temporary IAM resources."
  default     = ""

  validation {
    condition     = var.aws_iam_instance_profile == "" || can(regex("^[\\w+=,.@-]{1,128}$", var.aws_iam_instance_profile))
    error_message = "The aws_iam_instance_profile must be an instance profile name (1-128 of [A-Za-z0-9+=,.@_-]), or empty."
  }
}

variable "aws_security_group_id" {
  type        = string
  description = "Security group of the build instance (the stack's builderSecurityGroupId). It needs no inbound rule (Session Manager) and outbound HTTPS to the SSM endpoints. Empty: Packer creates a temporary group in the subnet's VPC."
  default     = ""

  validation {
    condition     = var.aws_security_group_id == "" || can(regex("^sg-[0-9a-f]{8,17}$", var.aws_security_group_id))
    error_message = "The aws_security_group_id must look like sg-0123456789abcdef0, or be empty."
  }
}

variable "aws_communicator" {
  type        = string
  description = "How Packer reaches the AWS build instance: 'ssh' (through Session Manager; every real build). 'none' serves the emulator test only (tests/integration): the emulator runs no machine, so the instance cannot be reached, every provisioner is skipped for amazon-ebs.golden and the image holds nothing of the image definition."
  default     = "ssh"

  validation {
    condition     = contains(["ssh", "none"], var.aws_communicator)
    error_message = "The aws_communicator must be 'ssh' or 'none'."
  }
}

variable "aws_ssh_username" {
  type        = string
  description = "Login user of the source AMI. Empty: the base_image's default (admin, ubuntu or ec2-user)."
  default     = ""

  validation {
    condition     = var.aws_ssh_username == "" || can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.aws_ssh_username))
    error_message = "The aws_ssh_username must be a valid Linux user name."
  }
}

variable "aws_root_device_name" {
  type        = string
  description = "Root device name of the source AMI. Empty: the base_image's default (/dev/xvda, or /dev/sda1 for Ubuntu)."
  default     = ""

  validation {
    condition     = var.aws_root_device_name == "" || can(regex("^/dev/(xvd|sd|nvme)[a-z0-9]+$", var.aws_root_device_name))
    error_message = "The aws_root_device_name must be a device name such as /dev/xvda."
  }
}

variable "root_volume_size_gb" {
  type        = number
  description = "Size of the root volume in GiB (AWS gp3 volume; local qcow2 virtual size)."
  default     = 8

  validation {
    condition     = var.root_volume_size_gb >= 4 && var.root_volume_size_gb <= 1024 && floor(var.root_volume_size_gb) == var.root_volume_size_gb
    error_message = "The root_volume_size_gb must be a whole number between 4 and 1024."
  }
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (id, alias or ARN) encrypting the root volume and so the AMI snapshot. Empty: the account's default EBS key."
  default     = ""
  sensitive   = true
}

# ---------------------------------------------------------------------------------------
# Local backend (source.qemu.golden)
# ---------------------------------------------------------------------------------------

variable "qemu_base_image" {
  type        = string
  description = "Path of the local Debian 12 base qcow2 (cloud-init NoCloud, openssh, python3, qemu-guest-agent), or for a layered build the parent image's qcow2 in the local catalog. Relative paths are relative to the working directory."
  default     = ".cache/base/debian-12.qcow2"
}

variable "qemu_base_image_checksum" {
  type        = string
  description = "Checksum of qemu_base_image in Packer's iso_checksum syntax ('sha256:<hex>', 'file:<path>' or 'none')."
  default     = "none"

  validation {
    condition     = var.qemu_base_image_checksum == "none" || can(regex("^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}|file:.+)$", var.qemu_base_image_checksum))
    error_message = "The qemu_base_image_checksum must be 'none', 'sha256:<64 hex>', 'sha512:<128 hex>' or 'file:<path>'."
  }
}

variable "qemu_output_directory" {
  type        = string
  description = "Directory the qcow2 image is written to; must not exist yet. Empty: output-packer/<build_id> under the working directory (git-ignored by output-*/)."
  default     = ""
}

variable "qemu_ssh_private_key_file" {
  type        = string
  description = "Private key (OpenSSH) generated by the caller for the temporary build user; its public half is read from '<file>.pub' unless qemu_ssh_public_key is set."
  default     = ""
}

variable "qemu_ssh_public_key" {
  type        = string
  description = "Public key (one OpenSSH line) authorized for the build user. Empty: read from '<qemu_ssh_private_key_file>.pub'."
  default     = ""
}

variable "qemu_build_user" {
  type        = string
  description = "Temporary user the NoCloud seed creates for the bake; removed before the image is captured."
  default     = "factory-build"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.qemu_build_user)) && !contains(["root", "admin", "debian"], var.qemu_build_user)
    error_message = "The qemu_build_user must be a valid Linux user name other than root/admin/debian."
  }
}

variable "qemu_accelerator" {
  type        = string
  description = "'tcg' (software emulation, multi-threaded, works everywhere) or 'kvm' (needs /dev/kvm)."
  default     = "tcg"

  validation {
    condition     = contains(["tcg", "kvm"], var.qemu_accelerator)
    error_message = "The qemu_accelerator must be 'tcg' or 'kvm'."
  }
}

variable "qemu_cpus" {
  type        = number
  description = "Virtual CPUs of the local build VM."
  default     = 2
}

variable "qemu_memory_mb" {
  type        = number
  description = "Memory of the local build VM in MiB."
  default     = 2048
}

variable "qemu_ssh_timeout" {
  type        = string
  description = "How long Packer waits for SSH on the local VM. Empty: 15m for x86_64 (TCG boots it in about a minute), 60m for arm64 (emulated on an x86_64 host, several times slower)."
  default     = ""
}

variable "probe_dir" {
  type        = string
  description = "Directory of the probe suite installed into the image at /usr/local/libexec/image-factory (entry: probe.sh). Empty: probe/ of this repository."
  default     = ""
}
