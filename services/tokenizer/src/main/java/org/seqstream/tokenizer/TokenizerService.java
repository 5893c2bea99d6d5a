package org.seqstream.tokenizer;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.apache.kafka.streams.Topology;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.seqstream.pipeline.tokenizer.TokenizerTopology;
import org.seqstream.runtime.ModelCatalog;

import java.nio.file.Path;

/** The tokenizer service: the stage's topology over the packages of SEQ_MODELS_DIR. */
@ApplicationScoped
public class TokenizerService {

    /** Every package, loaded and verified at start-up: a broken one stops the service with its file named. */
    @Produces
    @Singleton
    ModelCatalog models(@ConfigProperty(name = "seq.models-dir") Path dir) {
        return ModelCatalog.load(dir);
    }

    void close(@Disposes ModelCatalog models) {
        models.close();
    }

    @Produces
    Topology topology(ModelCatalog models) {
        return TokenizerTopology.build(models);
    }
}
