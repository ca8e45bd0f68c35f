variable "vendor_account_id" {
  description = "SpendSense's AWS account id (the account of the service role trusted)."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}$", var.vendor_account_id))
    error_message = "vendor_account_id must be a 12-digit AWS account id."
  }
}

variable "vendor_role_name" {
  description = "The role SpendSense runs as in its account: the only principal trusted."
  type        = string
  default     = "SpendSenseService"
}

variable "external_id" {
  description = "The ExternalId SpendSense generated for this account (shown in its dashboard)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_+=,.@:/-]{2,1224}$", var.external_id))
    error_message = "external_id: 2 to 1224 letters, digits or _+=,.@:/- characters."
  }
}

variable "role_name" {
  description = "Name of the role SpendSense assumes."
  type        = string
  default     = "SpendSense"
}

variable "allow_stop" {
  description = "Attach the stop policy (false: SpendSense alerts but never stops)."
  type        = bool
  default     = true
}

variable "allow_waste_actions" {
  description = "Attach the waste policy (false: SpendSense reports unused volumes, snapshots, Elastic IPs, NAT gateways, load balancers and databases but never acts on them)."
  type        = bool
  default     = true
}

# The IAM actions the collectors declare (ingest registry); kept equal to
# spendsense.customer_role by tests/deploy.
variable "read_only_actions" {
  description = "Actions of the read-only policy."
  type        = list(string)
  default = [
    "ce:GetCostAndUsage",
    "cloudwatch:GetMetricData",
    "ec2:DescribeAddresses",
    "ec2:DescribeImages",
    "ec2:DescribeInstances",
    "ec2:DescribeNatGateways",
    "ec2:DescribeSnapshots",
    "ec2:DescribeVolumes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "rds:DescribeDBInstances",
  ]
}

# The IAM actions the customer-account actions declare (actions registry), as
# spendsense.customer_role.StopGrants groups them; kept equal to it by tests/deploy.
variable "stop_read_actions" {
  description = "Reads the stop rails need (on every resource)."
  type        = list(string)
  default = [
    "ec2:DescribeInstanceAttribute",
    "ec2:DescribeInstanceTypes",
  ]
}

variable "stop_actions" {
  description = "Stop and start: on this account's instances, never one tagged spendsense:protect."
  type        = list(string)
  default = [
    "ec2:StartInstances",
    "ec2:StopInstances",
  ]
}

variable "tag_actions" {
  description = "Tagging: spendsense:* keys only, never removing spendsense:protect."
  type        = list(string)
  default = [
    "ec2:CreateTags",
    "ec2:DeleteTags",
  ]
}
