package org.seqstream.runtime;

import java.util.Arrays;

/** The two model shapes the runtime serves. */
public enum Architecture {
    ENCODER_DECODER("encoder-decoder"),
    DECODER_ONLY("decoder-only");

    private final String id;

    Architecture(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    public static Architecture of(String id) {
        return Arrays.stream(values()).filter(a -> a.id.equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(
                        "unknown architecture '" + id + "' (expected encoder-decoder or decoder-only)"));
    }
}
