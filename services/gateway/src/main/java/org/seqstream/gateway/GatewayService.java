package org.seqstream.gateway;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.seqstream.pipeline.KafkaSecurity;
import org.seqstream.pipeline.gateway.Gateway;
import org.seqstream.pipeline.gateway.GatewayRoutes;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.ModelCatalog;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The gateway service: the OpenAI-style API of {@link GatewayRoutes} on the Quarkus HTTP server,
 * ready while its reader follows seq.results and seq.stream. It opens no model graph: the model
 * packages only name the models and their limits.
 */
@ApplicationScoped
@Readiness
public class GatewayService implements HealthCheck {
    private Gateway gateway;
    private ModelCatalog models;

    void routes(@Observes Router router, Vertx vertx, Config config, MeterRegistry registry) {
        models = ModelCatalog.load(Path.of(config.getValue("seq.models-dir", String.class)), Device.CPU, 1);
        Map<String, Object> client = new HashMap<>(KafkaSecurity.settings(p -> config.getOptionalValue("kafka." + p, String.class).orElse(null)));
        client.put("bootstrap.servers", config.getValue("kafka.bootstrap.servers", String.class));
        gateway = new Gateway(client);
        GatewayRoutes routes = GatewayRoutes.mount(vertx, router, gateway, models, new GatewayRoutes.Settings(
                config.getValue("seq.gateway.max-body-bytes", Long.class),
                config.getValue("seq.gateway.timeout", Duration.class),
                config.getValue("seq.gateway.cancel-grace", Duration.class)));
        FunctionCounter.builder("seq_gateway_completions", routes, GatewayRoutes::completions).register(registry);
        FunctionCounter.builder("seq_gateway_streams", routes, GatewayRoutes::streams).register(registry);
        FunctionCounter.builder("seq_gateway_resumes", routes, GatewayRoutes::resumes).register(registry);
        for (int status : new int[] {400, 404, 413, 500, 503, 504}) {
            FunctionCounter.builder("seq_gateway_errors", routes, r -> r.errors().getOrDefault(status, 0L))
                    .tag("status", Integer.toString(status)).register(registry);
        }
        Gauge.builder("seq_gateway_waiting_requests", gateway, Gateway::waiting).register(registry);
        FunctionCounter.builder("seq_gateway_published_requests", gateway, Gateway::published).register(registry);
        FunctionCounter.builder("seq_gateway_cancels", gateway, Gateway::cancels).register(registry);
    }

    void stop(@Observes ShutdownEvent event) {
        if (gateway != null) {
            gateway.close();
        }
        if (models != null) {
            models.close();
        }
    }

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("gateway reader").status(gateway != null && gateway.ready())
                .withData("models", models == null ? "" : String.join(",", models.names())).build();
    }
}
