# Packer core and plugin pins. The versions must equal tools/versions.env: scripts/setup.sh
# builds exactly these from source and refuses to run when they drift apart.
packer {
  required_version = ">= 1.12.0, < 2.0.0"

  required_plugins {
    # amazon-ebs builder (AWS backend)
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "= 1.3.4"
    }
    # ansible provisioner (both backends)
    ansible = {
      source  = "github.com/hashicorp/ansible"
      version = "= 1.0.3"
    }
    # qemu builder (local backend)
    qemu = {
      source  = "github.com/hashicorp/qemu"
      version = "= 1.0.9"
    }
  }
}
