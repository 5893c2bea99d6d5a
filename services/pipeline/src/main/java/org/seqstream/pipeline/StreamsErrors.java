package org.seqstream.pipeline;

import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a stage's Kafka Streams application does when a stream thread dies: it logs the cause and
 * starts a new thread, which takes the thread's tasks back from their committed state. The
 * default (shut the client down) would leave a live process that processes nothing.
 */
public final class StreamsErrors {
    private static final Logger LOG = LoggerFactory.getLogger(StreamsErrors.class);

    private StreamsErrors() {
    }

    public static StreamsUncaughtExceptionHandler replaceThread(String stage) {
        return e -> {
            LOG.error("{}: stream thread failed; replacing it (its tasks resume from their committed state)", stage, e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
        };
    }
}
