#!/bin/sh
# Container entrypoint. The pipeline's processes that use Kafka (collectors, projector, the
# detector and actions workers, the API) first create the project's missing topics, waiting
# for the broker (deploy/docker/topics.py); every other command (`spendsense --help`, the
# model service, `spendsense db ...`, a shell) runs at once. Each process brings the
# store's schema to head itself. SPENDSENSE_CREATE_TOPICS=0 skips the topics step.
set -eu
case "$*" in
  "spendsense collect"* | "spendsense project"* | faust\ * | uvicorn\ *) uses_kafka=1 ;;
  *) uses_kafka=0 ;;
esac
if [ "$uses_kafka" = 1 ] && [ "${SPENDSENSE_CREATE_TOPICS:-1}" = 1 ]; then
  python /app/deploy/docker/topics.py
fi
exec "$@"
