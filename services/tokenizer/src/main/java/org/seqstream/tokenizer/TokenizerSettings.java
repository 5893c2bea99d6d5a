package org.seqstream.tokenizer;

import io.smallrye.config.ConfigMapping;
import org.seqstream.pipeline.tokenizer.TokenizerTopology;

import java.time.Duration;

/**
 * The tokenizer's settings ({@code seq.tokenizer.*} in application.properties, each from an
 * environment variable). Their defaults are {@link TokenizerTopology.Config#DEFAULT}'s, which a
 * test checks the properties against.
 */
@ConfigMapping(prefix = "seq.tokenizer")
public interface TokenizerSettings {
    int maxRequestBytes();

    Duration dedupWindow();

    default TokenizerTopology.Config topology() {
        return new TokenizerTopology.Config(maxRequestBytes(), dedupWindow());
    }
}
