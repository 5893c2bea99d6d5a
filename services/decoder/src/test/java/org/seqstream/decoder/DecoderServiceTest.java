package org.seqstream.decoder;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;


import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;

/**
 * The decoder service on a real broker: ready once its topics exist, serving its metrics.
 * Decoding through the service, as the packaged jar in a process of its own, is
 * {@link DecoderCrashIT} (a Quarkus test shares Avro's classes between the test's and the
 * application's class loaders, which a record serialized here and read there does not survive).
 */
@QuarkusTest
@QuarkusTestResource(KafkaResource.class)
class DecoderServiceTest {

    @Test
    void becomesReadyAndReportsItsMetrics() {
        long end = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < end && given().get("/q/health/ready").statusCode() != 200) {
            sleep(200);
        }
        given().get("/q/health/ready").then().statusCode(200);

        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("seq_decoder_tokens_total"))
                .body(containsString("seq_decoder_active_sequences"));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
