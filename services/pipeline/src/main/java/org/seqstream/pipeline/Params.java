package org.seqstream.pipeline;

import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.GenerationParams;

/** A request's generation parameters as the runtime takes them. */
public final class Params {
    private Params() {
    }

    public static SamplingParams sampling(GenerationParams p) {
        return new SamplingParams(p.getMaxNewTokens(), p.getTemperature(), p.getTopK(), p.getTopP(), p.getSeed(), p.getStop());
    }
}
