#!/bin/sh
# Container entrypoint: create the project's Kafka topics (idempotent: only missing ones),
# then run the service's command. Each process brings the store's schema to head itself.
set -eu
if [ "${SPENDSENSE_CREATE_TOPICS:-1}" = "1" ]; then
  spendsense kafka topics
fi
exec "$@"
