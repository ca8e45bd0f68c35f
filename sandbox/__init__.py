"""The simulated AWS account SpendSense runs against locally: trace fleets and the moto server."""
