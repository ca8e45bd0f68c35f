"""Collectors: read customer AWS accounts through an assumed role, publish to Kafka."""
