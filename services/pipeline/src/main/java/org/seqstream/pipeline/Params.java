package org.seqstream.pipeline;

import org.seqstream.runtime.ModelPackage;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.schemas.GenerationParams;

/** A request's generation parameters as the runtime takes them. */
public final class Params {
    private Params() {
    }

    /** {@code p} for {@code pkg}: max_new_tokens 0 (the schema's default, not given) becomes the package's limit. */
    public static GenerationParams resolved(GenerationParams p, ModelPackage pkg) {
        return p.getMaxNewTokens() != 0 ? p : GenerationParams.newBuilder(p).setMaxNewTokens(pkg.maxNewTokens()).build();
    }

    /** The runtime's parameters for {@code pkg}, {@link #resolved} first. */
    public static SamplingParams sampling(GenerationParams p, ModelPackage pkg) {
        GenerationParams r = resolved(p, pkg);
        return new SamplingParams(r.getMaxNewTokens(), r.getTemperature(), r.getTopK(), r.getTopP(), r.getSeed(), r.getStop());
    }
}
