# What a customer runs in their own account (values from SpendSense's "connect account" page).
provider "aws" {
  region = "us-east-1"
}

module "spendsense_role" {
  source            = "../../modules/customer-role"
  vendor_account_id = "210987654321"
  external_id       = "replace-with-the-id-spendsense-shows-you"
  allow_stop        = true
}

output "role_arn" {
  value = module.spendsense_role.role_arn
}
