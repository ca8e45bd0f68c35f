variable "region" {
  description = "AWS region of the SpendSense host."
  type        = string
  default     = "us-east-1"
}

variable "instance_type" {
  description = "EC2 type of the host (the compose stack needs about 8 GiB of memory)."
  type        = string
  default     = "t3.large"
}

variable "root_volume_gb" {
  description = "Size of the host's root volume (Docker images, Kafka, PostgreSQL, Prometheus)."
  type        = number
  default     = 60
}

variable "ssh_public_key" {
  description = "Public half of the SSH key Ansible (and deploy.yml) logs in with."
  type        = string
}

variable "ssh_cidrs" {
  description = "Where SSH is allowed from (your office, the CI runner's range)."
  type        = list(string)
}

variable "web_cidrs" {
  description = "Where the dashboard (HTTP/HTTPS) is reachable from."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "service_role_name" {
  description = "The host's role, SpendSense's service role: customer roles trust it (SPENDSENSE_AWS__SERVICE_ROLE_NAME)."
  type        = string
  default     = "SpendSenseService"
}

variable "customer_role_name_prefix" {
  description = "The host may assume customer roles whose name starts with this."
  type        = string
  default     = "SpendSense"
}

variable "ses_sender" {
  description = "The SES-verified address alert emails come from."
  type        = string
}
