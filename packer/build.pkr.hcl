# The golden image build: one provisioning sequence shared by both build machines.
#   packer build -only=amazon-ebs.golden ...   (AWS, Fargate runner)
#   packer build -only=qemu.golden ...         (local backend)
# No build name: builds are addressed as amazon-ebs.golden and qemu.golden.
build {
  sources = ["source.amazon-ebs.golden", "source.qemu.golden"]

  # Every provisioner below carries `except = local.skipped_provisioner_sources`: empty for real
  # builds; ["amazon-ebs.golden"] when aws_communicator = "none" (the emulator test), because
  # Packer refuses provisioners without a communicator.

  # Let first-boot cloud-init finish (user creation, host keys and the sshd restart that
  # follows, the AWS user data installing the SSM agent, apt locks) before configuring.
  # An error status is reported but not fatal: cleanup.sh wipes cloud-init state anyway.
  # Then the bake-only apt setting (locals.pkr.hcl), on apt-based machines only.
  provisioner "shell" {
    except          = local.skipped_provisioner_sources
    execute_command = "sudo -n env {{ .Vars }} bash '{{ .Path }}'"
    inline = [
      "cloud-init status --wait >/dev/null || echo \"cloud-init finished with status $? (continuing)\"",
      "if [ -d /etc/apt/apt.conf.d ]; then printf '%s\\n' '${local.bake_apt_conf}' >${local.bake_apt_conf_path}; fi",
    ]
  }

  # Configuration: the image definition's playbook ansible/images/<image_definition>.yml (shared
  # roles from ansible/roles), run from this host straight over the communicator's SSH
  # connection (no Packer SSH proxy). A layered build (parent_image set) passes
  # image_factory_layered=true: ansible/plays/prepare.yml then keeps its preflight checks but
  # skips the baseline and hardening roles, which the parent image already has.
  provisioner "ansible" {
    except        = local.skipped_provisioner_sources
    playbook_file = "${local.repo}/ansible/images/${var.image_definition}.yml"
    user          = build.User
    use_proxy     = false
    extra_arguments = concat([
      "--extra-vars", "image_factory_backend=${source.type == "amazon-ebs" ? "aws" : "local"}",
      "--extra-vars", "image_factory_pipeline=${var.pipeline} image_factory_build_id=${var.build_id}",
      "--extra-vars", "image_factory_layered=${local.layered}",
    ], var.ansible_extra_arguments)
    ansible_env_vars = [
      "ANSIBLE_CONFIG=${local.repo}/ansible/ansible.cfg",
      "ANSIBLE_ROLES_PATH=${local.repo}/ansible/roles",
      "ANSIBLE_RETRY_FILES_ENABLED=False",
      # Throwaway build machine with fresh host keys, reached over a key Packer controls.
      "ANSIBLE_HOST_KEY_CHECKING=False",
      # A TCG guest can be slow to accept a new connection.
      "ANSIBLE_SSH_RETRIES=3",
    ]
    # ansible_ssh_extra_args is left at the plugin's default (-o IdentitiesOnly=yes): the
    # plugin passes the list as ONE quoted word, so a second option would break ssh.
    # Keep-alives etc. come from ansible/ansible.cfg (ssh_args).
  }

  # Stage the helper scripts (cleanup, validation) and the probe suite. After Ansible on
  # purpose: the cleanup role empties /tmp.
  provisioner "shell" {
    except = local.skipped_provisioner_sources
    inline = ["mkdir -p ${local.staging_dir}/probe"]
  }
  provisioner "file" {
    except      = local.skipped_provisioner_sources
    source      = "${local.root}/scripts/"
    destination = local.staging_dir
  }
  # The probe suite (probe/, entry probe.sh) belongs to the image: the pipeline runs it on
  # the test instance. generated = true: checked when the build runs, not at validate time.
  provisioner "file" {
    except      = local.skipped_provisioner_sources
    source      = "${local.probe_dir}/"
    destination = "${local.staging_dir}/probe"
    generated   = true
  }

  # Install the probe runner where the pipeline expects it, with only this definition's own
  # checks (checks.d/<image_definition>/*.check, none for some definitions) in its checks.d/;
  # an invalid drop-in fails the build here rather than the probe later. A parent image's probe
  # (layered build) is replaced as a whole, so none of the parent's own checks stays behind.
  provisioner "shell" {
    except          = local.skipped_provisioner_sources
    execute_command = "sudo -n env {{ .Vars }} bash '{{ .Path }}'"
    inline = [
      "set -o errexit",
      "rm -rf ${local.probe_install_dir}",
      "install -d -o root -g root -m 0755 ${local.probe_install_dir} ${local.probe_install_dir}/checks.d",
      "cp -R ${local.staging_dir}/probe/probe.sh ${local.staging_dir}/probe/lib ${local.probe_install_dir}/",
      "if [ -d ${local.staging_dir}/probe/checks.d/${var.image_definition} ]; then find ${local.staging_dir}/probe/checks.d/${var.image_definition} -maxdepth 1 -name '*.check' -type f -exec cp -t ${local.probe_install_dir}/checks.d/ {} +; fi",
      "chown -R root:root ${local.probe_install_dir}",
      "chmod -R u=rwX,go=rX ${local.probe_install_dir}",
      "chmod 0755 ${local.probe_install_dir}/probe.sh",
      "${local.probe_install_dir}/probe.sh --validate",
      "${local.probe_install_dir}/probe.sh --list --backend ${source.type == "amazon-ebs" ? "aws" : "local"}",
    ]
  }

  # SBOM: the image's package inventory (package databases and their metadata, no binaries:
  # scripts/package-inventory.sh) is packed in the build machine, downloaded, and turned into a
  # CycloneDX 1.5 SBOM by syft on the Packer host (scripts/sbom.sh): the Fargate runner on AWS,
  # this machine locally. So no SBOM tool ever enters the image and the guest does no scanning
  # (seconds under TCG instead of a whole-filesystem scan). Before the finalize step, which
  # removes the build user that the download needs; cleanup.sh adds or removes no package.
  provisioner "shell" {
    except          = local.skipped_provisioner_sources
    execute_command = "sudo -n env {{ .Vars }} bash '{{ .Path }}'"
    inline          = ["bash ${local.staging_dir}/package-inventory.sh ${local.staging_dir}/package-inventory.tar.gz"]
  }
  provisioner "file" {
    except      = local.skipped_provisioner_sources
    direction   = "download"
    source      = "${local.staging_dir}/package-inventory.tar.gz"
    destination = "${local.sbom_path}.inventory.tar.gz"
  }
  provisioner "shell-local" {
    except           = local.skipped_provisioner_sources
    environment_vars = ["SYFT=${var.syft_path}"]
    inline = [
      "bash '${local.root}/scripts/sbom.sh' '${local.sbom_path}.inventory.tar.gz' '${local.sbom_path}' '${var.pipeline}' '${var.build_id}'",
      "rm -f '${local.sbom_path}.inventory.tar.gz'",
    ]
  }

  # Finalize, as ONE root process (a single sudo): cleanup.sh removes the machine's identity
  # and the build user itself (the user running this SSH session), then validate-image.sh
  # fails the build if anything is left. Both must run in the same root process because once
  # the build user is deleted its sudo right is gone; the established SSH connection carries
  # on. Afterwards nothing needs the build user: on AWS Packer stops the instance through
  # the EC2 API; locally the poweroff timer armed last shuts the VM down cleanly while the
  # qemu shutdown_command merely waits. skip_clean: the deleted user could not remove the
  # uploaded script; validate-image.sh deletes the staging files instead.
  provisioner "shell" {
    except          = local.skipped_provisioner_sources
    execute_command = "sudo -n env {{ .Vars }} bash '{{ .Path }}'"
    environment_vars = [
      "FACTORY_BUILD_USER=${build.User}",
      "FACTORY_BACKEND=${source.type == "amazon-ebs" ? "aws" : "local"}",
    ]
    inline = [
      "set -o errexit",
      "cd /", # the build user's home (this session's directory) is about to go
      "bash ${local.staging_dir}/cleanup.sh",
      "bash ${local.staging_dir}/validate-image.sh",
      "if [ \"$FACTORY_BACKEND\" = local ]; then systemd-run --quiet --on-active=5 --timer-property=AccuracySec=1s /usr/bin/systemctl poweroff; fi",
    ]
    skip_clean = true
  }

  # What the pipeline reads back (FindCandidateImage locally, logs on AWS).
  post-processor "manifest" {
    only       = ["amazon-ebs.golden"]
    output     = local.manifest_path
    strip_path = false
    custom_data = merge(local.manifest_data, {
      backend           = "aws"
      source_image      = build.SourceAMI
      source_image_name = build.SourceAMIName
    })
  }
  post-processor "manifest" {
    only       = ["qemu.golden"]
    output     = local.manifest_path
    strip_path = false
    custom_data = merge(local.manifest_data, {
      backend           = "local"
      source_image      = abspath(var.qemu_base_image)
      source_image_name = local.layered ? var.parent_image : basename(var.qemu_base_image)
      image_path        = "${local.qemu_output_directory}/${var.build_id}.qcow2"
    })
  }
}
