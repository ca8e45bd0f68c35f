"""SpendSense shared kernel."""
