package org.seqstream.tokenizer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.apache.kafka.streams.KafkaClientSupplier;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.seqstream.pipeline.StreamWakeups;
import org.seqstream.pipeline.StreamsErrors;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.seqstream.pipeline.tokenizer.TokenizerMetrics;
import org.seqstream.pipeline.tokenizer.TokenizerTopology;
import org.seqstream.runtime.ModelCatalog;

import java.nio.file.Path;
import java.util.function.ToDoubleFunction;

/** The tokenizer service: the stage's topology over the packages of SEQ_MODELS_DIR, and its metrics. */
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

    /** A failed stream thread is replaced rather than the whole client shut down. */
    @Produces
    StreamsUncaughtExceptionHandler uncaught() {
        return StreamsErrors.replaceThread(TokenizerTopology.STAGE);
    }

    /** Stream threads that other threads can wake, and that commit by the work done (see StreamWakeups). */
    @Produces
    @Singleton
    KafkaClientSupplier clients() {
        return new StreamWakeups();
    }

    @Produces
    Topology topology(ModelCatalog models, TokenizerSettings settings,
                      @org.eclipse.microprofile.config.inject.ConfigProperty(name = "seq.output-format") String outputFormat) {
        // results (and token events) as Avro or JSON, for every reader of this deployment
        org.seqstream.schemas.OutputFormat.set(org.seqstream.schemas.OutputFormat.parse(outputFormat));
        return TokenizerTopology.build(models, settings.topology());
    }

    void metrics(@Observes StartupEvent event, MeterRegistry r) {
        TokenizerMetrics m = TokenizerMetrics.INSTANCE;
        counter(r, "seq_tokenizer_requests", m, TokenizerMetrics::requests);
        counter(r, "seq_tokenizer_tokenized", m, TokenizerMetrics::tokenized);
        counter(r, "seq_tokenizer_tokens", m, TokenizerMetrics::tokens);
        counter(r, "seq_tokenizer_refused", m, TokenizerMetrics::refused);
        counter(r, "seq_tokenizer_rejected_too_large", m, TokenizerMetrics::tooLarge);
        counter(r, "seq_tokenizer_duplicates", m, TokenizerMetrics::duplicates);
        counter(r, "seq_tokenizer_rekeyed", m, TokenizerMetrics::rekeyed);
        counter(r, "seq_tokenizer_dead_letters", m, TokenizerMetrics::deadLetters);
    }

    private static void counter(MeterRegistry r, String name, TokenizerMetrics m, ToDoubleFunction<TokenizerMetrics> f) {
        FunctionCounter.builder(name, m, f).register(r);
    }
}
