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

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/** The one command to see it work: a local stack, the bundled sentences through both models, tokens streamed. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start a local broker and the four stages, send example sentences to both models, stream tokens, print results, exit.")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions models;

    @picocli.CommandLine.Option(names = "--verbose", description = "Also print the Kafka clients' and broker's warnings.")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (!verbose) {
            // before any Kafka class makes its logger: the broker's and clients' warnings (retried
            // transaction markers, a state directory under /tmp) are no news in a demo
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "error");
            System.setProperty("org.slf4j.simpleLogger.log.kafka", "error");
            System.setProperty("org.slf4j.simpleLogger.log.state.change.logger", "error");
            System.setProperty("org.slf4j.simpleLogger.log.org.seqstream", "warn");
        }
        List<String> sentences;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                DemoCommand.class.getResourceAsStream("/demo-sentences.tsv"), StandardCharsets.UTF_8))) {
            sentences = r.lines().filter(l -> !l.isBlank()).map(l -> l.split("\t")[0]).toList();   // spoken<TAB>written
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Path dir = Files.createTempDirectory("seq-demo-");
        out.println("== starting a Kafka broker (KRaft, in this process) and the four stages");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
             ModelCatalog catalog = ModelCatalog.load(models.modelsDir(), Device.parse(models.device), models.threads);
             LocalPipeline pipeline = LocalPipeline.start(catalog, new LocalPipeline.Settings(kafka.bootstrapServers(),
                     Set.copyOf(LocalPipeline.STAGES), 4, dir.resolve("state"), DecoderTopology.Config.DEFAULT, Map.of(), "demo"))) {
            out.println("   bootstrap " + kafka.bootstrapServers() + ", models " + String.join(", ", catalog.names()));
            GenerationOptions greedy = new GenerationOptions();
            greedy.maxNewTokens = 128;
            greedy.topP = 1.0;
            int missing = 0;
            for (String model : List.of("itn-seq2seq", "itn-gpt")) {
                out.println("== " + model + ": " + sentences.size() + " requests to seq.requests; each request's token events"
                        + " from seq.stream as one line (stderr), results from seq.results:");
                missing += SendCommand.sendAll(new SendCommand.Settings(kafka.bootstrapServers(), model, greedy, false, false,
                        120, 0, true, 5, true), sentences, out).lost();
            }
            out.println(missing == 0 ? "== done: every request got its result" : "== " + missing + " results missing");
            // and over HTTP: the gateway, as `seqctl local --http-port` serves it
            try (GatewayServer gateway = GatewayServer.start("127.0.0.1", 0, Map.of("bootstrap.servers", kafka.bootstrapServers()),
                    catalog, GatewayRoutes.Settings.DEFAULT)) {
                String body = "{\"model\":\"itn-gpt\",\"prompt\":\"" + sentences.get(0) + "\"}";
                String url = "http://127.0.0.1:" + gateway.port() + "/v1/completions";
                out.println("== over HTTP, the gateway (seqctl local --http-port 8080 serves it):");
                out.println("$ curl -s " + url + " -H 'Content-Type: application/json' -d '" + body + "'");
                java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build().send(
                        java.net.http.HttpRequest.newBuilder(java.net.URI.create(url)).header("Content-Type", "application/json")
                                .timeout(java.time.Duration.ofSeconds(60)).POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                out.println(r.body());
                if (r.statusCode() != 200) {
                    missing++;
                }
            }
            return missing == 0 ? 0 : 1;
        }
    }
}
