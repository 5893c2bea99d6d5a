package org.seqstream.decoder;

import io.smallrye.config.ConfigMapping;
import org.seqstream.pipeline.decoder.DecoderTopology;

import java.time.Duration;

/**
 * The decoding settings ({@code seq.decoder.*} in application.properties, each from an
 * environment variable). Their defaults are {@link DecoderTopology.Config#DEFAULT}'s, which a
 * test checks the properties against.
 */
@ConfigMapping(prefix = "seq.decoder")
public interface DecoderSettings {
    int maxActive();

    int maxQueued();

    Duration stepEvery();

    Duration stepBudget();

    boolean decodeThread();

    int cacheMb();

    default DecoderTopology.Config topology() {
        return new DecoderTopology.Config(maxActive(), maxQueued(), stepEvery(), stepBudget(), decodeThread(), cacheMb());
    }
}
