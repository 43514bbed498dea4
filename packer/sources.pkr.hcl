# Build machines. Both produce the same image from the same provisioners (build.pkr.hcl):
# amazon-ebs.golden on AWS (Fargate runner), qemu.golden on the local backend.

# AWS: temporary EC2 instance from the source AMI, captured as an encrypted EBS-backed AMI.
source "amazon-ebs" "golden" {
  region        = var.aws_region
  instance_type = var.aws_instance_type
  subnet_id     = var.aws_subnet_id

  # The pipeline always passes source_ami (PrepareBuild resolved and vetted it). The filter
  # below only serves manual runs; it is resolved by the builder when the build starts, so
  # `packer validate` and qemu-only builds never need AWS credentials.
  source_ami = var.source_ami
  dynamic "source_ami_filter" {
    for_each = var.source_ami == "" ? [local.base] : []
    content {
      filters = {
        name                = local.ami_name_filter
        architecture        = var.architecture
        root-device-type    = "ebs"
        virtualization-type = "hvm"
      }
      owners      = source_ami_filter.value.owners
      most_recent = true
    }
  }

  ami_name        = local.image_name
  ami_description = "${var.pipeline} golden image, build ${var.build_id}, commit ${var.commit != "" ? var.commit : "none"}"
  ena_support     = true
  sriov_support   = true

  # Instances launched from the AMI get IMDSv2 only; so does the build instance.
  imds_support = "v2.0"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  # Encrypted gp3 root: the build volume is encrypted, so is the snapshot behind the AMI.
  launch_block_device_mappings {
    device_name           = local.aws_root_device_name
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }
  ami_block_device_mappings {
    device_name           = local.aws_root_device_name
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gb
    delete_on_termination = true
  }

  # Access: SSH tunnelled through SSM Session Manager. No inbound rule, no public IP and no
  # key pair on the instance are needed, which a temporary security group could not give
  # (it would have to admit the runner's address). The instance runs with the stack's builder
  # instance profile (SSM core only, passed by the runner); Packer creates no IAM resources,
  # and refuses session_manager without an instance profile.
  # aws_communicator = "none" exists for the emulator test only (see the variable).
  communicator         = var.aws_communicator
  ssh_username         = local.aws_ssh_username
  ssh_interface        = var.aws_communicator == "ssh" ? "session_manager" : ""
  ssh_timeout          = "15m"
  pause_before_ssm     = "20s"
  iam_instance_profile = var.aws_iam_instance_profile
  security_group_id    = var.aws_security_group_id
  # Official Debian AMIs lack the SSM agent: the user data installs it when missing.
  user_data_file = "${local.root}/files/aws-user-data.sh"

  # If Packer dies, a guest-initiated shutdown must not leave a stopped instance behind.
  shutdown_behavior = "terminate"

  tags            = local.aws_tags
  snapshot_tags   = local.aws_tags
  run_tags        = local.aws_run_tags
  run_volume_tags = local.aws_run_tags
}

# Local: the Debian 12 base qcow2 booted under QEMU, seeded by a NoCloud ISO (label cidata)
# that creates the temporary build user with the caller's public key.
source "qemu" "golden" {
  iso_url      = var.qemu_base_image
  iso_checksum = var.qemu_base_image_checksum
  disk_image   = true
  # Copy, not an overlay: the output must not depend on the base file.
  use_backing_file = false
  format           = "qcow2"
  disk_size        = "${var.root_volume_size_gb}G"
  disk_interface   = "virtio"
  # Blocks freed in the guest (fstrim in cleanup.sh) are released from the qcow2.
  disk_discard       = "unmap"
  disk_detect_zeroes = "unmap"
  # Local-only shortcut: no `qemu-img convert` pass after the build (packer-plugin-qemu
  # step_convert_disk). Discard (fstrim in cleanup.sh) already keeps the qcow2 sparse, and the
  # local catalog stores the file as it is; the AMI path has no such step.
  skip_compaction = true
  # Local-only: the build machine's disk ignores guest flush requests (QEMU -drive cache=unsafe,
  # see virt-install(1) "cache"; only a host crash loses data, and Packer waits for qemu to exit
  # before it uses the file). dpkg syncs after every unpacked file; under TCG each sync is costly.
  disk_cache       = "unsafe"
  net_device       = "virtio-net"
  output_directory = local.qemu_output_directory
  vm_name          = "${var.build_id}.qcow2"

  # The architecture's emulator, board and firmware (locals.pkr.hcl, qemu_architectures).
  qemu_binary       = local.qemu_architecture.binary
  machine_type      = local.qemu_architecture.machine_type
  efi_firmware_code = local.qemu_architecture.efi_code
  efi_firmware_vars = local.qemu_architecture.efi_vars

  headless = true
  cpus     = var.qemu_cpus
  memory   = var.qemu_memory_mb
  # KVM cannot run here, so TCG. "none" keeps Packer from adding "-machine accel=", which
  # QEMU refuses together with "-accel"; the -accel argument below selects the accelerator
  # and multi-threaded TCG (one host thread per vCPU).
  accelerator = "none"
  # The guest agent's virtio-serial port, as the local test instance has it (local/qemu/qemu-args.ts).
  # Without it the base image's qemu-guest-agent.service waits for
  # /dev/virtio-ports/org.qemu.guest_agent.0 until systemd's default device timeout (90 s), which
  # holds multi-user.target and so cloud-final and `cloud-init status --wait` (measured: the build
  # machine's cloud-init finished at 100 s of uptime instead of about 35 s). Nothing talks to this
  # agent (a null chardev): the bake reaches the machine over SSH. A `-device` here replaces
  # Packer's default device list, to which packer-plugin-qemu adds back only the network device
  # (step_run.go applyUserOverrides); the disk is a `-drive if=virtio` and needs none.
  qemuargs = [
    ["-accel", var.qemu_accelerator == "tcg" ? "tcg,thread=multi" : "kvm"],
    ["-cpu", var.qemu_accelerator == "tcg" ? "max" : "host"],
    ["-chardev", "null,id=factory-qga0"],
    ["-device", "virtio-serial-pci,id=factory-serial0"],
    ["-device", "virtserialport,bus=factory-serial0.0,chardev=factory-qga0,name=org.qemu.guest_agent.0"],
  ]
  boot_wait = "5s"

  cd_label = "cidata"
  cd_content = {
    "meta-data" = templatefile("${local.root}/files/nocloud/meta-data.pkrtpl", {
      instance_id = "${var.build_id}-bake"
      hostname    = "localhost" # resolvable without touching /etc/hosts (sudo looks it up)
    })
    "user-data" = templatefile("${local.root}/files/nocloud/user-data.pkrtpl", {
      build_user = var.qemu_build_user
      # Without a key the build could never log in: fail now. (HCL has no raise; a file()
      # of the message does it, and only for this source.)
      ssh_public_key = (local.qemu_ssh_public_key != "" ? local.qemu_ssh_public_key
      : file("ERROR: qemu.golden needs qemu_ssh_private_key_file (with its .pub) or qemu_ssh_public_key"))
    })
  }

  communicator         = "ssh"
  ssh_username         = var.qemu_build_user
  ssh_private_key_file = var.qemu_ssh_private_key_file
  ssh_timeout          = local.qemu_ssh_timeout
  # The build user is gone by now (see build.pkr.hcl, "finalize"): the root finalize step
  # armed a transient poweroff timer; this session only waits for it, no sudo needed.
  shutdown_command = "sleep 300"
  shutdown_timeout = local.qemu_architecture.shutdown_timeout
}
