package org.seqstream.cli;

import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.pipeline.gateway.GatewayRoutes;
import org.seqstream.pipeline.gateway.GatewayServer;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.testing.EmbeddedKafka;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** A Kafka broker and the four stages in this process, until SIGTERM or Ctrl-C. */
@Command(name = "local", mixinStandardHelpOptions = true,
        description = "Start a single-node KRaft broker and all four stages in one process.")
final class LocalCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "9092", paramLabel = "P", description = "Broker port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Broker logs and decoder state; kept across runs (default: a temporary directory, removed at exit).")
    Path dataDir;

    @Option(names = "--stages", defaultValue = "tokenizer,embedding,encoder,decoder", paramLabel = "LIST|none",
            description = "Stages to run, comma-separated, or none for the broker only (default: all).")
    String stages;

    @Option(names = "--bootstrap", paramLabel = "HOST:PORT", description = "Use this broker instead of starting one.")
    String bootstrap;

    @Option(names = "--partitions", defaultValue = "4", paramLabel = "N",
            description = "Partitions of the topics created (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--max-active", defaultValue = "64", paramLabel = "N",
            description = "Sequences decoding at once in the decoder; more wait durably (default: ${DEFAULT-VALUE}).")
    int maxActive;

    @Option(names = "--max-queued", defaultValue = "4096", paramLabel = "N",
            description = "Sequences waiting in the decoder; beyond it a new one is refused as overloaded, a retryable error (default: ${DEFAULT-VALUE}).")
    int maxQueued;

    @Option(names = "--http-port", paramLabel = "P",
            description = "Also serve the OpenAI-style HTTP gateway on this port (0: any free port; default: no gateway).")
    Integer httpPort;

    @Option(names = "--http-host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Address the gateway listens on (default: ${DEFAULT-VALUE}; 0.0.0.0 for every interface).")
    String httpHost;

    @Option(names = "--http-cancel-grace", defaultValue = "10", paramLabel = "S",
            description = "The gateway cancels a request S seconds after its client went away, unless its stream was resumed"
                    + " (default: ${DEFAULT-VALUE}).")
    double httpCancelGrace;

    @Option(names = "--output-format", defaultValue = "avro", paramLabel = "avro|json",
            description = "How the stages write results and token events: Avro single-object records, or JSON for readers"
                    + " without the schema (kcat, the console consumer) (default: ${DEFAULT-VALUE}).")
    String outputFormat;

    @Mixin
    ModelOptions models;

    @Override
    public Integer call() throws Exception {
        org.seqstream.schemas.OutputFormat.set(org.seqstream.schemas.OutputFormat.parse(outputFormat));
        Set<String> stageSet = stages.equals("none") ? Set.of() : new LinkedHashSet<>(Arrays.asList(stages.split(",")));
        boolean temporary = dataDir == null;
        Path dir = temporary ? Files.createTempDirectory("seq-local-") : dataDir;
        Files.createDirectories(dir);
        EmbeddedKafka kafka = null;
        if (bootstrap == null) {
            kafka = EmbeddedKafka.start(port, dir.resolve("kafka"), temporary);
            bootstrap = kafka.bootstrapServers();
        }
        System.out.println("bootstrap: " + bootstrap);
        System.out.flush();
        ModelCatalog catalog = null;
        LocalPipeline pipeline = null;
        if (!stageSet.isEmpty()) {
            catalog = ModelCatalog.load(models.modelsDir(), Device.parse(models.device), models.threads);
            pipeline = LocalPipeline.start(catalog, new LocalPipeline.Settings(bootstrap, stageSet, partitions,
                    dir.resolve("state"), DecoderTopology.Config.DEFAULT.withMaxActive(maxActive).withMaxQueued(maxQueued), Map.of(), "local"));
        } else {
            LocalPipeline.createTopics(bootstrap, partitions, Map.of());
        }
        GatewayServer gateway = null;
        if (httpPort != null) {
            if (catalog == null) {
                catalog = ModelCatalog.load(models.modelsDir(), Device.parse(models.device), models.threads);
            }
            gateway = GatewayServer.start(httpHost, httpPort, Map.of("bootstrap.servers", bootstrap), catalog,
                    new GatewayRoutes.Settings(GatewayRoutes.Settings.DEFAULT.maxBodyBytes(), GatewayRoutes.Settings.DEFAULT.timeout(),
                            java.time.Duration.ofMillis((long) (httpCancelGrace * 1000))));
            System.out.println("gateway: http://" + httpHost + ":" + gateway.port() + "/v1");
        }
        System.out.println("stages: " + (stageSet.isEmpty() ? "none" : String.join(",", stageSet)) + " (models "
                + (catalog == null ? "-" : String.join(",", catalog.names())) + ")");
        System.out.println("ready; stop with Ctrl-C or SIGTERM");
        System.out.flush();
        CountDownLatch stopped = new CountDownLatch(1);
        EmbeddedKafka k = kafka;
        LocalPipeline p = pipeline;
        ModelCatalog c = catalog;
        GatewayServer g = gateway;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("seqctl local: shutting down");
            if (g != null) {
                g.close();
            }
            if (p != null) {
                p.close();
            }
            if (c != null) {
                c.close();
            }
            if (k != null) {
                k.close();
            }
            stopped.countDown();
        }));
        stopped.await();
        return 0;
    }
}
