package org.seqstream.schemas;

import org.apache.kafka.common.serialization.Serde;

/** A topic with the serdes of its keys (request ids) and values. */
public record Topic<V>(String name, Serde<String> keySerde, Serde<V> valueSerde) {
}
