#!/usr/bin/env bash
# Runs a class from Apache Kafka's jars (as the distribution's script of this name does).
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} ${KAFKA_OPTS:-} -Dorg.slf4j.simpleLogger.logFile=System.out \
  -Dorg.slf4j.simpleLogger.defaultLogLevel="${KAFKA_LOG_LEVEL:-info}" -cp "/opt/kafka/libs/*" "$@"
