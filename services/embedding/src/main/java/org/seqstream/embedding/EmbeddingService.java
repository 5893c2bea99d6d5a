package org.seqstream.embedding;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.seqstream.pipeline.BatchStageLoop;
import org.seqstream.pipeline.StageLoops;

/** The embedding service: the stage's exactly-once micro-batch loop, ready while it polls the broker. */
@ApplicationScoped
@Readiness
public class EmbeddingService implements HealthCheck {
    private StageLoops.Running stage;

    void start(@Observes StartupEvent event, Config config, MeterRegistry registry) {
        stage = StageLoops.Running.start("embedding", key -> config.getOptionalValue(key, String.class).orElse(null));
        BatchStageLoop<?> loop = stage.loop();
        FunctionCounter.builder("seq_embedding_records", loop, BatchStageLoop::records).register(registry);
        FunctionCounter.builder("seq_embedding_batches", loop, BatchStageLoop::batches).register(registry);
        FunctionCounter.builder("seq_embedding_aborted_transactions", loop, BatchStageLoop::abortedTransactions).register(registry);
        FunctionCounter.builder("seq_embedding_model_seconds", loop, BatchStageLoop::handleSeconds).register(registry);
        Gauge.builder("seq_embedding_batch_size", loop, BatchStageLoop::lastBatchSize).register(registry);
    }

    void stop(@Observes ShutdownEvent event) {
        if (stage != null) {
            stage.close();
        }
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("embedding loop").status(stage != null && stage.ready())
                .withData("models", stage == null ? "" : stage.modelNames()).build();
    }
}
