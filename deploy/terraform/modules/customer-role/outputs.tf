output "role_arn" {
  description = "Paste this into SpendSense's dashboard when connecting the account."
  value       = aws_iam_role.spendsense.arn
}
