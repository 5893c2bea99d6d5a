package org.seqstream.pipeline.tokenizer;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.seqstream.pipeline.Results;

/**
 * Reads seq.results and forgets the id of every retryable error (an {@code overloaded} refusal
 * downstream), so that the request, sent again with the same id, is answered rather than dropped
 * as a duplicate. Results are keyed by id like requests, so an id's result and its retry meet in
 * the same task; the retry is published after its producer saw the result, and Kafka Streams
 * processes a task's records in timestamp order, so the id is forgotten before the retry comes.
 * Only the header is read: results are not deserialized here.
 */
final class RetryableResults implements Processor<String, byte[], Void, Void> {
    private KeyValueStore<String, Long> seen;

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.seen = context.getStateStore(TokenizerTopology.IDS_STORE);
    }

    @Override
    public void process(Record<String, byte[]> record) {
        if (record.key() != null && record.headers().lastHeader(Results.RETRYABLE_HEADER) != null) {
            seen.delete(record.key());
        }
    }
}
