"""Create the project's missing Kafka topics, waiting for the broker first.

python /app/deploy/docker/topics.py    (the entrypoint runs it before a service command)

The broker gets ``SPENDSENSE_KAFKA_WAIT_S`` seconds (default 90) to answer; after that
the container stops with one line naming the broker it tried.
"""

from __future__ import annotations

import os
import sys
import time

from kafka.errors import KafkaError

from spendsense.settings import get_settings
from spendsense.topic_admin import create_topics


def main() -> int:
    settings = get_settings().kafka
    wait_s = float(os.environ.get("SPENDSENSE_KAFKA_WAIT_S", "90"))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            created = create_topics(settings)
        except KafkaError as exc:
            if time.monotonic() >= deadline:
                print(
                    f"Kafka at {settings.bootstrap_servers} did not answer within {wait_s:.0f} s "
                    f"({exc}): check the kafka service and SPENDSENSE_KAFKA__BOOTSTRAP_SERVERS",
                    file=sys.stderr,
                )
                return 1
            time.sleep(2)
            continue
        print("created topics: " + ", ".join(created) if created else "all topics exist")
        return 0


if __name__ == "__main__":
    sys.exit(main())
