"""Local orchestration for development, the demo, the chaos run and the tests: the
Kafka broker, the process supervisor and the table of processes, the demo and chaos runs,
and their commands. Nothing in production imports it."""
