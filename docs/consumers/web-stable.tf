# A consumer's Terraform on the factory's web/stable channel (docs/consumers.md).
# tests/integration/consumers.test.ts runs `terraform validate` on this file.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

variable "factory_stage" {
  type        = string
  default     = "prod"
  description = "The factory stage whose channel this follows (channelParameterPrefix /image-factory/<stage>/channels)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Subnets of the fleet."
}

locals {
  # The channel pointer: the same name in every region the pipeline is distributed to, each
  # region's parameter naming that region's image.
  web_stable_pointer = "/image-factory/${var.factory_stage}/channels/web/stable"
}

# The image the channel names now, read at plan time (a new promotion shows up at the next plan).
data "aws_ssm_parameter" "web_stable" {
  name = local.web_stable_pointer
}

output "web_stable_image_id" {
  value = data.aws_ssm_parameter.web_stable.insecure_value
}

# A fleet that follows the channel without a new plan: EC2 reads the pointer at each launch, so
# the launch template never changes when the factory promotes; the factory:channel tag lets the
# factory's rollout refresh the group.
resource "aws_launch_template" "web" {
  name_prefix   = "web-stable-"
  image_id      = "resolve:ssm:${local.web_stable_pointer}"
  instance_type = "t3.small"

  metadata_options {
    http_tokens = "required"
  }
}

resource "aws_autoscaling_group" "web" {
  name_prefix         = "web-stable-"
  min_size            = 1
  max_size            = 4
  desired_capacity    = 2
  vpc_zone_identifier = var.subnet_ids

  launch_template {
    id      = aws_launch_template.web.id
    version = aws_launch_template.web.latest_version
  }

  tag {
    key                 = "factory:channel"
    value               = "web/stable"
    propagate_at_launch = false
  }
}
