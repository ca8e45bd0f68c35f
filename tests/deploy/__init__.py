"""Deployment checks: compose, IaC, workflows, dashboards against a real Prometheus."""
