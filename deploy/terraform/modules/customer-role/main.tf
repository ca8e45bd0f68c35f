# The role a customer creates in their own account so SpendSense can watch it: trusted by
# SpendSense's service role only, with the customer's ExternalId; read-only and stop
# policies are separate so reading can be granted without stopping. The stop policy
# enforces SpendSense's rails itself: stop and start only this account's instances and
# never one tagged spendsense:protect; tag spendsense:* keys only, never removing
# spendsense:protect (spendsense.customer_role builds the same documents; tests/deploy
# keeps the actions equal).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  instances   = "arn:${data.aws_partition.current.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:instance/*"
  protect_tag = "spendsense:protect"
}

resource "aws_iam_role" "spendsense" {
  name                 = var.role_name
  description          = "Lets SpendSense read EC2, CloudWatch and Cost Explorer data and stop idle instances"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${var.vendor_account_id}:role/${var.vendor_role_name}" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "sts:ExternalId" = var.external_id } }
    }]
  })
}

resource "aws_iam_role_policy" "read_only" {
  name = "SpendSenseReadOnly"
  role = aws_iam_role.spendsense.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "SpendSenseReadOnly", Effect = "Allow", Action = var.read_only_actions, Resource = "*" }]
  })
}

resource "aws_iam_role_policy" "stop" {
  count = var.allow_stop ? 1 : 0
  name  = "SpendSenseStopIdle"
  role  = aws_iam_role.spendsense.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Sid = "SpendSenseDescribe", Effect = "Allow", Action = var.stop_read_actions, Resource = "*" },
      { Sid = "SpendSenseStopStart", Effect = "Allow", Action = var.stop_actions, Resource = local.instances },
      {
        Sid       = "SpendSenseNeverProtected"
        Effect    = "Deny"
        Action    = var.stop_actions
        Resource  = "*"
        Condition = { Null = { "aws:ResourceTag/${local.protect_tag}" = "false" } }
      },
      {
        Sid       = "SpendSenseOwnTagsOnly"
        Effect    = "Allow"
        Action    = var.tag_actions
        Resource  = local.instances
        Condition = { "ForAllValues:StringLike" = { "aws:TagKeys" = ["spendsense:*"] } }
      },
      {
        Sid       = "SpendSenseKeepProtectTag"
        Effect    = "Deny"
        Action    = ["ec2:DeleteTags"]
        Resource  = "*"
        Condition = { "ForAnyValue:StringEquals" = { "aws:TagKeys" = [local.protect_tag] } }
      },
      {
        Sid       = "SpendSenseNoUntagAll"
        Effect    = "Deny"
        Action    = ["ec2:DeleteTags"]
        Resource  = "*"
        Condition = { Null = { "aws:TagKeys" = "true" } }
      },
    ]
  })
}

# The resource kinds' safe actions (spendsense.resources), as
# spendsense.customer_role.WasteGrants groups them: each only on this account's resources of
# its type, never on one tagged spendsense:protect; tagging spendsense:* keys only.
resource "aws_iam_role_policy" "waste" {
  count = var.allow_waste_actions ? 1 : 0
  name  = "SpendSenseWasteActions"
  role  = aws_iam_role.spendsense.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "SpendSenseWasteDb"
        Effect   = "Allow"
        Action   = ["rds:StopDBInstance"]
        Resource = "arn:${data.aws_partition.current.partition}:rds:*:${data.aws_caller_identity.current.account_id}:db:*"
      },
      {
        Sid      = "SpendSenseWasteElasticIp"
        Effect   = "Allow"
        Action   = ["ec2:ReleaseAddress"]
        Resource = "arn:${data.aws_partition.current.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:elastic-ip/*"
      },
      {
        Sid      = "SpendSenseWasteLoadbalancer"
        Effect   = "Allow"
        Action   = ["elasticloadbalancing:DeleteLoadBalancer"]
        Resource = "arn:${data.aws_partition.current.partition}:elasticloadbalancing:*:${data.aws_caller_identity.current.account_id}:loadbalancer/*"
      },
      {
        Sid      = "SpendSenseWasteNatgateway"
        Effect   = "Allow"
        Action   = ["ec2:DeleteNatGateway"]
        Resource = "arn:${data.aws_partition.current.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:natgateway/*"
      },
      {
        Sid      = "SpendSenseWasteSnapshot"
        Effect   = "Allow"
        Action   = ["ec2:DeleteSnapshot"]
        Resource = "arn:${data.aws_partition.current.partition}:ec2:*::snapshot/*"
      },
      {
        Sid      = "SpendSenseWasteSnapshotVolume"
        Effect   = "Allow"
        Action   = ["ec2:CreateSnapshot", "ec2:DeleteVolume"]
        Resource = ["arn:${data.aws_partition.current.partition}:ec2:*::snapshot/*", "arn:${data.aws_partition.current.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:volume/*"]
      },
      {
        Sid       = "SpendSenseWasteNeverProtected"
        Effect    = "Deny"
        Action    = ["ec2:CreateSnapshot", "ec2:DeleteNatGateway", "ec2:DeleteSnapshot", "ec2:DeleteVolume", "ec2:ReleaseAddress", "elasticloadbalancing:DeleteLoadBalancer", "rds:StopDBInstance"]
        Resource  = "*"
        Condition = { Null = { "aws:ResourceTag/${local.protect_tag}" = "false" } }
      },
      {
        Sid       = "SpendSenseWasteOwnTagsOnly"
        Effect    = "Allow"
        Action    = ["ec2:CreateTags", "elasticloadbalancing:AddTags"]
        Resource  = ["arn:${data.aws_partition.current.partition}:elasticloadbalancing:*:${data.aws_caller_identity.current.account_id}:loadbalancer/*", "arn:${data.aws_partition.current.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:natgateway/*", "arn:${data.aws_partition.current.partition}:ec2:*::snapshot/*", "arn:${data.aws_partition.current.partition}:ec2:*:${data.aws_caller_identity.current.account_id}:volume/*"]
        Condition = { "ForAllValues:StringLike" = { "aws:TagKeys" = ["spendsense:*"] } }
      },
    ]
  })
}
