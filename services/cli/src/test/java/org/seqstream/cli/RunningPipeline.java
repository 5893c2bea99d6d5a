package org.seqstream.cli;

import org.seqstream.pipeline.LocalPipeline;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.testing.EmbeddedKafka;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/** A real broker and the four stages in this JVM, for the command-line tests; running once {@link #start} returns. */
record RunningPipeline(EmbeddedKafka kafka, ModelCatalog models, LocalPipeline pipeline) implements AutoCloseable {
    static RunningPipeline start(String name, DecoderTopology.Config decoder) throws Exception {
        Path dir = Files.createTempDirectory("seq-" + name + "-");
        EmbeddedKafka kafka = EmbeddedKafka.start(0, dir.resolve("kafka"), true);
        ModelCatalog models = ModelCatalog.load(Path.of(System.getProperty("seq.repo.root", "../..")).resolve("models"));
        LocalPipeline pipeline = LocalPipeline.start(models, new LocalPipeline.Settings(kafka.bootstrapServers(),
                Set.copyOf(LocalPipeline.STAGES), 2, dir.resolve("state"), decoder, Map.of(), name));
        for (int i = 0; i < 600 && !pipeline.running(); i++) {
            Thread.sleep(100);
        }
        return new RunningPipeline(kafka, models, pipeline);
    }

    String bootstrap() {
        return kafka.bootstrapServers();
    }

    @Override
    public void close() {
        pipeline.close();
        models.close();
        kafka.close();
    }
}
