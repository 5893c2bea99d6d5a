package org.seqstream.pipeline.tokenizer;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.seqstream.pipeline.EagerCommit;
import org.seqstream.pipeline.Results;

/**
 * Reads seq.results. A retryable error (an {@code overloaded} refusal downstream) makes the
 * tokenizer forget its id, so that the request, sent again with the same id, is answered rather
 * than dropped as a duplicate; if that retry came before the refusal (the task does not wait to
 * order the two topics by time) it was held, and is handed to the tokenizer now. Any other result
 * drops a held request of its id: that id is answered. Results are keyed by id like requests, so
 * an id's result and its retry meet in the same task. Only the header is read: results are not
 * deserialized here.
 */
final class RetryableResults implements Processor<String, byte[], String, byte[]> {
    private ProcessorContext<String, byte[]> context;
    private KeyValueStore<String, Long> seen;
    private KeyValueStore<String, byte[]> held;
    private EagerCommit commits;

    @Override
    public void init(ProcessorContext<String, byte[]> context) {
        this.context = context;
        this.seen = context.getStateStore(TokenizerTopology.IDS_STORE);
        this.held = context.getStateStore(TokenizerTopology.HELD_STORE);
        this.commits = new EagerCommit(context);
    }

    @Override
    public void process(Record<String, byte[]> record) {
        try {
            read(record);
        } finally {
            commits.recordDone(context);
        }
    }

    private void read(Record<String, byte[]> record) {
        String id = record.key();
        if (id == null) {
            return;
        }
        byte[] request = held.get(id);
        if (request != null) {
            held.delete(id);
        }
        if (record.headers().lastHeader(Results.RETRYABLE_HEADER) != null) {
            seen.delete(id);
            if (request != null) {
                context.forward(new Record<>(id, request, record.timestamp()));
            }
        }
    }
}
