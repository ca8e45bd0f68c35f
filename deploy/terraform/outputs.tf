output "public_ip" {
  description = "The host's Elastic IP: put it in the Ansible inventory and your DNS."
  value       = aws_eip.host.public_ip
}

output "vendor_account_id" {
  description = "This AWS account's id: SPENDSENSE_VENDOR_ACCOUNT_ID, trusted by customer roles."
  value       = data.aws_caller_identity.current.account_id
}

output "host_role_arn" {
  description = "The role the host's processes run as: SpendSense's service role, which customer roles trust."
  value       = aws_iam_role.host.arn
}
