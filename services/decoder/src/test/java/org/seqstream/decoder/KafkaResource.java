package org.seqstream.decoder;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.testing.EmbeddedKafka;

import java.nio.file.Path;
import java.util.Map;

/** A real broker for the service test, with the pipeline's topics. */
public class KafkaResource implements QuarkusTestResourceLifecycleManager {
    static EmbeddedKafka kafka;

    @Override
    public Map<String, String> start() {
        kafka = EmbeddedKafka.start();
        LocalPipeline.createTopics(kafka.bootstrapServers(), 2, Map.of());
        return Map.of("quarkus.kafka-streams.bootstrap-servers", kafka.bootstrapServers(),
                "seq.models-dir", Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models").toString(),
                "seq.device", "cpu",
                "kafka-streams.state.dir", kafka.dataDir().resolve("streams").toString());
    }

    @Override
    public void stop() {
        if (kafka != null) {
            kafka.close();
        }
    }
}
