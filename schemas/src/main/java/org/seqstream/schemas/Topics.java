package org.seqstream.schemas;

import org.apache.kafka.common.serialization.Serdes;

import java.util.List;

/**
 * The registry of the pipeline's topics: every name and its serdes in one place. Every record is
 * keyed by its request id, so one request stays on one partition from end to end.
 */
public final class Topics {
    /** Requests from producers: Avro {@link SequenceRequest} or JSON (see {@link RequestSerde}). */
    public static final Topic<SequenceRequest> REQUESTS = new Topic<>("seq.requests", Serdes.String(), new RequestSerde());
    public static final Topic<SequenceTokens> TOKENS = avro("seq.tokens", SequenceTokens.class, SequenceTokens.getClassSchema());
    public static final Topic<SequenceEmbeddings> EMBEDDINGS =
            avro("seq.embeddings", SequenceEmbeddings.class, SequenceEmbeddings.getClassSchema());
    public static final Topic<SequenceEncoded> ENCODED =
            avro("seq.encoded", SequenceEncoded.class, SequenceEncoded.getClassSchema());
    /** One event per generated token; Avro or JSON as {@link OutputFormat} says, read either way. */
    public static final Topic<TokenEvent> STREAM = new Topic<>("seq.stream", Serdes.String(),
            new OutputSerde<>(TokenEvent.class, TokenEvent.getClassSchema()));
    /** Exactly one terminal record per request: an output or an error; Avro or JSON as {@link OutputFormat} says, read either way. */
    public static final Topic<SequenceResult> RESULTS = new Topic<>("seq.results", Serdes.String(),
            new OutputSerde<>(SequenceResult.class, SequenceResult.getClassSchema()));
    /**
     * Instructions about requests, keyed by request id: cancel (read by the decoder), resumed
     * (read by the gateways). As many partitions as seq.encoded: the decoder task of a request
     * reads both.
     */
    public static final Topic<SequenceControl> CONTROL =
            avro("seq.control", SequenceControl.class, SequenceControl.getClassSchema());
    /** The control actions. */
    public static final String CANCEL = "cancel", RESUMED = "resumed";
    /** Records that could not be read at all; original bytes, reason in headers. */
    public static final Topic<byte[]> DLQ = new Topic<>("seq.dlq", Serdes.String(), Serdes.ByteArray());

    /** Serde of the decoder's per-sequence progress store (changelogged, never a topic of its own). */
    public static final AvroSerde<DecodeProgress> PROGRESS = new AvroSerde<>(DecodeProgress.class, DecodeProgress.getClassSchema());

    public static final List<Topic<?>> ALL = List.of(REQUESTS, TOKENS, EMBEDDINGS, ENCODED, STREAM, RESULTS, CONTROL, DLQ);

    private static <T extends org.apache.avro.specific.SpecificRecord> Topic<T> avro(String name, Class<T> type,
                                                                                       org.apache.avro.Schema schema) {
        return new Topic<>(name, Serdes.String(), new AvroSerde<>(type, schema));
    }

    private Topics() {
    }
}
