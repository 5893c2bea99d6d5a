package org.seqstream.pipeline.gateway;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Completion ids, {@code cmpl-<creation ms, base 36>-<16 random hex digits>}, and the request ids
 * of their prompts: the id itself for one prompt, {@code <id>-<i>} for the i-th of several. An
 * id says when it was made, which is where a replay of its events starts in Kafka.
 *
 * <p>Server-sent event ids are {@code <request id>/<n>}: the token event of index n, or, for the
 * final chunk, n = the number of tokens.
 */
public final class CompletionIds {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Pattern REQUEST = Pattern.compile("cmpl-([0-9a-z]{1,12})-[0-9a-f]{16}(?:-\\d{1,4})?");
    private static final Pattern EVENT = Pattern.compile("(.+)/(\\d{1,9})");

    private CompletionIds() {
    }

    public static String create(long nowMs) {
        byte[] b = new byte[8];
        RANDOM.nextBytes(b);
        return "cmpl-" + Long.toString(nowMs, 36) + "-" + HexFormat.of().formatHex(b);
    }

    /** The request id of prompt {@code index} of {@code of} prompts. */
    public static String request(String completionId, int index, int of) {
        return of == 1 ? completionId : completionId + "-" + index;
    }

    /** When the request id was made, if it is one of the gateway's. */
    public static OptionalLong createdAtMs(String requestId) {
        Matcher m = REQUEST.matcher(requestId);
        if (!m.matches()) {
            return OptionalLong.empty();
        }
        try {
            return OptionalLong.of(Long.parseLong(m.group(1), 36));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    public static String event(String requestId, int index) {
        return requestId + "/" + index;
    }

    /** A parsed {@code Last-Event-ID}: the request and the last index the client has. */
    public record EventId(String requestId, int index) {
    }

    public static java.util.Optional<EventId> parseEvent(String lastEventId) {
        if (lastEventId == null) {
            return java.util.Optional.empty();
        }
        Matcher m = EVENT.matcher(lastEventId.trim());
        if (!m.matches() || createdAtMs(m.group(1)).isEmpty()) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new EventId(m.group(1), Integer.parseInt(m.group(2))));
    }
}
