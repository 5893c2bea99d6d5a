#!/usr/bin/env bash
KAFKA_LOG_LEVEL="${KAFKA_LOG_LEVEL:-warn}" exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
