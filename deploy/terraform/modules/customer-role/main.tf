# The role a customer creates in their own account so SpendSense can watch it: trusted by
# SpendSense's account only with the customer's ExternalId; read-only and stop policies
# are separate so reading can be granted without stopping.

resource "aws_iam_role" "spendsense" {
  name                 = var.role_name
  description          = "Lets SpendSense read EC2, CloudWatch and Cost Explorer data and stop idle instances"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${var.vendor_account_id}:root" }
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
    Version   = "2012-10-17"
    Statement = [{ Sid = "SpendSenseStopIdle", Effect = "Allow", Action = var.stop_actions, Resource = "*" }]
  })
}
