# Values derived once from the variables (locals are evaluated a single time per build,
# so the build date is the same in every tag and in the manifest).
locals {
  # Absolute directory of this template: Packer resolves file()/templatefile() relative to
  # the template directory but provisioner sources relative to the working directory.
  root = abspath(path.root)
  repo = abspath("${path.root}/..")

  build_date = var.build_date != "" ? var.build_date : timestamp()

  # Unique per build and sortable: <build_id>-<UTC yyyymmddhhmmss>. AMI names allow [A-Za-z0-9 ()./'@_-].
  image_name = "${var.build_id}-${formatdate("YYYYMMDDhhmmss", local.build_date)}"

  # Per base image facts of the AWS source (mirrors functions/commons/core/base-images.ts).
  # The name filters (manual runs only) carry the vendor's architecture name where %s stands.
  base_images = {
    "debian-12" = {
      ssh_username     = "admin"
      root_device_name = "/dev/xvda"
      ami_name_filter  = "debian-12-%s-*"
      owners           = ["136693071363"]
    }
    "ubuntu-24.04" = {
      ssh_username     = "ubuntu"
      root_device_name = "/dev/sda1"
      ami_name_filter  = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-%s-server-*"
      owners           = ["099720109477"]
    }
    "ubuntu-22.04" = {
      ssh_username     = "ubuntu"
      root_device_name = "/dev/sda1"
      ami_name_filter  = "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-%s-server-*"
      owners           = ["099720109477"]
    }
    "al2023" = {
      ssh_username     = "ec2-user"
      root_device_name = "/dev/xvda"
      ami_name_filter  = "al2023-ami-2023.*-kernel-*-%s"
      owners           = ["137112412989"]
    }
  }
  base = local.base_images[var.base_image]
  # Debian and Canonical name x86_64 amd64 (core/architectures.ts VENDOR_ARCHITECTURE); Amazon uses EC2's names.
  vendor_architecture = var.base_image == "al2023" ? var.architecture : { x86_64 = "amd64", arm64 = "arm64" }[var.architecture]
  ami_name_filter     = format(local.base.ami_name_filter, local.vendor_architecture)

  aws_ssh_username     = var.aws_ssh_username != "" ? var.aws_ssh_username : local.base.ssh_username
  aws_root_device_name = var.aws_root_device_name != "" ? var.aws_root_device_name : local.base.root_device_name

  # Ownership contract (docs/design.md, "Tags"; README "IAM"). The owner tags, factory:stage and
  # factory:pipeline, are set only when each resource is created: packer-plugin-amazon v1.3.4 sends
  # run_tags as the tag specifications of RunInstances (instance, network interface; volumes get
  # run_volume_tags), CreateKeyPair, CreateSecurityGroup and CreateImage (image and snapshots), so
  # IAM checks them with ec2:CreateAction. `tags` / `snapshot_tags` go out later in a plain
  # CreateTags (StepCreateTags), which IAM allows only on this stage's candidates and never with
  # an owner key: they carry the rest. {{ .SourceAMI }} / {{ .SourceAMIName }} are filled in by the
  # amazon builder once it has resolved the source image.
  aws_owner_tags = {
    "factory:stage"    = var.stage
    "factory:pipeline" = var.pipeline
  }
  # Layered build: baked from a parent pipeline's image, which already has the shared roles.
  # factory:base-image is what a layered child inherits from this image; factory:parent-image
  # records its lineage.
  layered = var.parent_image != ""
  aws_tags = merge({
    "Name"                    = local.image_name
    "factory:build-id"        = var.build_id
    "factory:architecture"    = var.architecture
    "factory:channel"         = "candidate"
    "factory:source-ami"      = "{{ .SourceAMI }}"
    "factory:source-ami-name" = "{{ .SourceAMIName }}"
    "factory:base-image"      = var.base_image
    "factory:commit"          = var.commit
    "factory:build-date"      = local.build_date
    "factory:execution"       = var.execution_name
    },
    local.layered ? { "factory:parent-image" = var.parent_image } : {},
    # Only when the SBOM is made: the emulator test's communicator-less build runs no provisioner.
    var.sbom_uri != "" && var.aws_communicator != "none" ? { "factory:sbom" = var.sbom_uri } : {},
  )
  # The build instance is temporary: marked so that cleanup can find a leaked one.
  aws_run_tags = merge(local.aws_owner_tags, local.aws_tags, {
    "Name"         = "packer-${var.build_id}"
    "factory:role" = "build-instance"
  })

  # Local backend: the build user's public key ("" when none was given; see sources).
  qemu_ssh_public_key = trimspace(
    var.qemu_ssh_public_key != "" ? var.qemu_ssh_public_key : (
      var.qemu_ssh_private_key_file != "" && fileexists("${var.qemu_ssh_private_key_file}.pub")
      ? file("${var.qemu_ssh_private_key_file}.pub") : ""
    )
  )
  qemu_output_directory = var.qemu_output_directory != "" ? var.qemu_output_directory : "output-packer/${var.build_id}"

  # Local backend: how QEMU runs each architecture (TCG on an x86_64 host). x86_64 keeps
  # packer-plugin-qemu's defaults (qemu-system-x86_64, machine "pc", BIOS). arm64 (the local arm64
  # option, README "Architectures") is qemu-system-aarch64's "virt" board booted by the AAVMF UEFI
  # firmware of Debian's qemu-efi-aarch64 (`dpkg -L qemu-efi-aarch64`): setting efi_firmware_code /
  # efi_firmware_vars turns on packer-plugin-qemu's efi_boot, which gives the code read-only as
  # pflash unit 0 and a per-build copy of the vars (output directory, efivars.fd) as unit 1
  # (v1.0.9 config.go QemuEFIBootConfig, step_prepare_efivars.go, step_run.go). On "virt" the
  # plugin's default disk, CD (the NoCloud seed: a -drive without if=, the board's default virtio)
  # and net devices are all virtio PCI. An emulated arm64 guest boots several times slower than an
  # x86_64 one, hence the longer waits.
  qemu_architectures = {
    x86_64 = {
      binary           = "qemu-system-x86_64"
      machine_type     = "pc"
      efi_code         = ""
      efi_vars         = ""
      ssh_timeout      = "15m"
      shutdown_timeout = "5m"
    }
    arm64 = {
      binary           = "qemu-system-aarch64"
      machine_type     = "virt"
      efi_code         = "/usr/share/AAVMF/AAVMF_CODE.fd"
      efi_vars         = "/usr/share/AAVMF/AAVMF_VARS.fd"
      ssh_timeout      = "60m"
      shutdown_timeout = "15m"
    }
  }
  qemu_architecture = local.qemu_architectures[var.architecture]
  qemu_ssh_timeout  = var.qemu_ssh_timeout != "" ? var.qemu_ssh_timeout : local.qemu_architecture.ssh_timeout

  probe_dir = var.probe_dir != "" ? var.probe_dir : "${local.repo}/probe"
  # Where the probe runner lives in the image (the pipeline's probe command runs it from there).
  probe_install_dir = "/usr/local/libexec/image-factory"

  # The SBOM on the Packer host (packer/scripts/sbom.sh writes it, the manifest names it).
  sbom_path = var.sbom_path != "" ? var.sbom_path : "${local.repo}/output-packer/${var.build_id}.cdx.json"

  manifest_path = var.manifest_path != "" ? var.manifest_path : "${local.repo}/output-packer/manifest.json"

  # Build metadata both manifests carry (post-processor custom_data; the pipeline reads it back).
  manifest_data = {
    build_id         = var.build_id
    pipeline         = var.pipeline
    channel          = var.channel
    commit           = var.commit
    build_date       = local.build_date
    execution_name   = var.execution_name
    base_image       = var.base_image
    image_definition = var.image_definition
    image_name       = local.image_name
    parent_image     = var.parent_image
    sbom_path        = local.sbom_path
  }

  # Sources whose provisioners are skipped (see build.pkr.hcl): only the emulator test's
  # communicator-less AWS build.
  skipped_provisioner_sources = var.aws_communicator == "none" ? ["amazon-ebs.golden"] : []

  # Where the image definition's helper files are staged on the build machine.
  staging_dir = "/tmp/image-factory"

  # Bake-only apt setting (apt-based build machines; build.pkr.hcl writes it before Ansible,
  # packer/scripts/cleanup.sh removes it, validate-image.sh fails the build if it remains, so
  # no instance of the image runs with it): no translated package descriptions
  # (`Acquire::Languages "none"`, apt.conf(5) "Languages"), so every index refresh downloads
  # and decompresses only the package lists.
  bake_apt_conf_path = "/etc/apt/apt.conf.d/99image-factory-bake"
  bake_apt_conf      = "Acquire::Languages \"none\";"
}
