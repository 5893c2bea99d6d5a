package org.seqstream.pipeline;

import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.GenerationParams;

/** A request's generation parameters as the runtime takes them. */
public final class Params {
    private Params() {
    }

    /** The parameters for {@code pkg}: max_new_tokens 0 (the schema's default, not given) is the package's limit. */
    public static SamplingParams sampling(GenerationParams p, ModelPackage pkg) {
        int max = p.getMaxNewTokens() == 0 ? pkg.maxNewTokens() : p.getMaxNewTokens();
        return new SamplingParams(max, p.getTemperature(), p.getTopK(), p.getTopP(), p.getSeed(), p.getStop());
    }
}
