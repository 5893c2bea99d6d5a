package org.seqstream.decoder;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
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
import org.seqstream.pipeline.decoder.DecoderMetrics;
import org.seqstream.pipeline.decoder.DecoderTopology;
import org.seqstream.runtime.Device;
import org.seqstream.runtime.ModelCatalog;

import java.nio.file.Path;


/** The decoder service: the stage's topology, its configuration and its metrics. */
@ApplicationScoped
public class DecoderService {

    @Produces
    @Singleton
    ModelCatalog models(@ConfigProperty(name = "seq.models-dir") Path dir,
                        @ConfigProperty(name = "seq.device") String device,
                        @ConfigProperty(name = "seq.onnx.threads") int threads) {
        return ModelCatalog.load(dir, Device.parse(device), threads).opening(ModelCatalog.DECODER_GRAPHS);
    }

    void close(@Disposes ModelCatalog models) {
        models.close();
    }

    /** A failed stream thread is replaced rather than the whole client shut down. */
    @Produces
    StreamsUncaughtExceptionHandler uncaught() {
        return StreamsErrors.replaceThread(DecoderTopology.STAGE);
    }

    /** Stream threads that other threads can wake, and that commit by the work done (see StreamWakeups). */
    @Produces
    @Singleton
    KafkaClientSupplier clients() {
        return new StreamWakeups();
    }

    @Produces
    Topology topology(ModelCatalog models, DecoderSettings settings,
                      @org.eclipse.microprofile.config.inject.ConfigProperty(name = "seq.output-format") String outputFormat) {
        // results (and token events) as Avro or JSON, for every reader of this deployment
        org.seqstream.schemas.OutputFormat.set(org.seqstream.schemas.OutputFormat.parse(outputFormat));
        return DecoderTopology.build(models, settings.topology());
    }

    void metrics(@Observes StartupEvent event, MeterRegistry registry) {
        bind(registry, DecoderMetrics.INSTANCE);
    }

    private static void bind(MeterRegistry r, DecoderMetrics m) {
        Gauge.builder("seq_decoder_active_sequences", m, DecoderMetrics::activeSequences).register(r);
        Gauge.builder("seq_decoder_waiting_sequences", m, DecoderMetrics::waitingSequences).register(r);
        Gauge.builder("seq_decoder_batch_size", m, DecoderMetrics::lastBatchSize).register(r);
        FunctionCounter.builder("seq_decoder_tokens", m, DecoderMetrics::tokens).register(r);
        FunctionCounter.builder("seq_decoder_steps", m, DecoderMetrics::steps).register(r);
        FunctionCounter.builder("seq_decoder_step_seconds", m, x -> x.stepNanos() / 1e9).register(r);
        FunctionCounter.builder("seq_decoder_admit_seconds", m, x -> x.admitNanos() / 1e9).register(r);
        FunctionCounter.builder("seq_decoder_admitted_sequences", m, DecoderMetrics::admittedSequences).register(r);
        FunctionCounter.builder("seq_decoder_finished_sequences", m, DecoderMetrics::finishedSequences).register(r);
        FunctionCounter.builder("seq_decoder_resumed_sequences", m, DecoderMetrics::resumedSequences).register(r);
        FunctionCounter.builder("seq_decoder_rejected_sequences", m, DecoderMetrics::rejectedSequences).register(r);
        FunctionCounter.builder("seq_decoder_failed_sequences", m, DecoderMetrics::failedSequences).register(r);
        FunctionCounter.builder("seq_decoder_cancelled_sequences", m, DecoderMetrics::cancelledSequences).register(r);
    }
}
