package org.seqstream.embedding;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.seqstream.pipeline.BatchStageLoop;
import org.seqstream.pipeline.StageLoops;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.ModelCatalog;

import java.nio.file.Path;
import java.util.Map;

/**
 * The embedding service: the stage's exactly-once micro-batch loop over the packages of
 * SEQ_MODELS_DIR. Ready while the loop runs and polls the broker.
 */
@ApplicationScoped
@Readiness
public class EmbeddingService implements HealthCheck {
    @Inject
    @ConfigProperty(name = "seq.models-dir")
    Path modelsDir;
    @Inject
    @ConfigProperty(name = "seq.device")
    String device;
    @Inject
    @ConfigProperty(name = "seq.onnx.threads")
    int threads;
    @Inject
    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;
    @Inject
    @ConfigProperty(name = "seq.instance-id")
    String instanceId;
    @Inject
    @ConfigProperty(name = "seq.max-batch")
    int maxBatch;

    private ModelCatalog models;
    private BatchStageLoop<?> loop;

    void start(@Observes StartupEvent e) {
        models = ModelCatalog.load(modelsDir, Device.parse(device), threads);
        loop = StageLoops.embedding(models, bootstrap, Map.of(), instanceId, maxBatch).start();
    }

    void stop(@Observes ShutdownEvent e) {
        if (loop != null) {
            loop.close();
        }
        if (models != null) {
            models.close();
        }
    }

    @Override
    public HealthCheckResponse call() {
        boolean ready = loop != null && loop.ready(30_000);
        return HealthCheckResponse.named("embedding loop").status(ready).withData("models", models == null ? ""
                : String.join(",", models.names())).build();
    }
}
