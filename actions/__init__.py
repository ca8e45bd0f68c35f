"""Actions: alert emails through SES, signed links, the stop executor, the auto-stop policy."""
