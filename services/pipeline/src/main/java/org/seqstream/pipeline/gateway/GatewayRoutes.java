package org.seqstream.pipeline.gateway;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import org.seqstream.runtime.ModelCatalog;
import org.seqstream.runtime.ModelPackage;
import org.seqstream.schemas.GenerationParams;
import org.seqstream.schemas.SequenceRequest;
import org.seqstream.schemas.SequenceResult;
import org.seqstream.schemas.TokenEvent;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;

/**
 * The gateway's HTTP API, the subset of OpenAI's that completion clients use, on a Vert.x
 * router (the Quarkus service mounts it on its own router; {@code seqctl local --http-port} on a
 * plain Vert.x server):
 *
 * <ul>
 * <li>{@code GET /v1/models}, {@code GET /v1/models/{model}}</li>
 * <li>{@code POST /v1/completions}: {@code model}, {@code prompt} (a string, an array of strings,
 *     an array of token ids or of such arrays), {@code max_tokens}, {@code temperature},
 *     {@code top_p}, {@code seed}, {@code stop}, {@code stream}, {@code stream_options},
 *     {@code user}; answered from seq.results, or with {@code stream} as server-sent events from
 *     seq.stream, each with {@code id: <request id>/<token index>}, ending with
 *     {@code data: [DONE]}</li>
 * <li>{@code GET /v1/completions/{request id}/events} with a {@code Last-Event-ID} header: the
 *     events after that one, replayed from Kafka, then the live rest; without the header, all of
 *     them</li>
 * </ul>
 *
 * <p>Errors come in OpenAI's format, {@code {"error": {"message", "type", "param", "code"}}}.
 */
public final class GatewayRoutes {
    /**
     * Settings: the largest request body; how long a request may take before it gets a 504; and
     * how long after its client went away an unfinished request is cancelled, unless its stream
     * was resumed (on any instance) meanwhile.
     */
    public record Settings(long maxBodyBytes, Duration timeout, Duration cancelGrace) {
        public static final Settings DEFAULT = new Settings(1 << 20, Duration.ofSeconds(300), Duration.ofSeconds(10));
    }

    private static final Set<String> INPUT_ERRORS = Set.of("empty_input", "input_too_long", "unknown_characters",
            "invalid_parameters", "request_too_large", "invalid_request");
    private static final int MAX_PROMPTS = 64;

    private final Vertx vertx;
    private final Gateway gateway;
    private final ModelCatalog models;
    private final Settings settings;
    private final LongAdder completions = new LongAdder(), streams = new LongAdder(), resumes = new LongAdder();
    private final Map<Integer, LongAdder> errors = new java.util.concurrent.ConcurrentHashMap<>();

    private GatewayRoutes(Vertx vertx, Gateway gateway, ModelCatalog models, Settings settings) {
        this.vertx = vertx;
        this.gateway = gateway;
        this.models = models;
        this.settings = settings;
    }

    /** Adds the API's routes to {@code router}; returns them, for their counters. */
    public static GatewayRoutes mount(Vertx vertx, Router router, Gateway gateway, ModelCatalog models, Settings settings) {
        GatewayRoutes r = new GatewayRoutes(vertx, gateway, models, settings);
        router.route("/v1/*").handler(BodyHandler.create(false).setBodyLimit(settings.maxBodyBytes()));
        router.get("/v1/models").handler(r::models);
        router.get("/v1/models/:model").handler(r::model);
        router.post("/v1/completions").handler(r::completions);
        router.get("/v1/completions/:id/events").handler(r::events);
        router.post("/v1/completions/:id/cancel").handler(r::cancel);
        router.route("/v1/*").handler(ctx -> r.error(ctx, 404, "invalid_request_error", null, "not_found",
                "Unknown request URL: " + ctx.request().method() + " " + ctx.request().path()));
        router.route("/v1/*").failureHandler(r::failure);
        return r;
    }

    public long completions() {
        return completions.sum();
    }

    public long streams() {
        return streams.sum();
    }

    public long resumes() {
        return resumes.sum();
    }

    /** Error responses by HTTP status. */
    public Map<Integer, Long> errors() {
        Map<Integer, Long> m = new HashMap<>();
        errors.forEach((k, v) -> m.put(k, v.sum()));
        return m;
    }

    // ---- models --------------------------------------------------------------------------------

    private static JsonObject modelJson(String name) {
        return new JsonObject().put("id", name).put("object", "model").put("created", 0).put("owned_by", "seqstream");
    }

    private void models(RoutingContext ctx) {
        JsonArray data = new JsonArray();
        models.names().forEach(n -> data.add(modelJson(n)));
        json(ctx, 200, new JsonObject().put("object", "list").put("data", data));
    }

    private void model(RoutingContext ctx) {
        String name = ctx.pathParam("model");
        if (models.find(name).isEmpty()) {
            unknownModel(ctx, name);
            return;
        }
        json(ctx, 200, modelJson(name));
    }

    private void unknownModel(RoutingContext ctx, String name) {
        error(ctx, 404, "invalid_request_error", "model", "model_not_found",
                "The model '" + name + "' does not exist; this gateway serves " + String.join(", ", models.names()));
    }

    // ---- completions ---------------------------------------------------------------------------

    /** A client error in the request body, answered with 400 before anything is published. */
    private static final class BadRequest extends RuntimeException {
        final String param;

        BadRequest(String param, String message) {
            super(message);
            this.param = param;
        }
    }

    /** One prompt: text, or token ids. */
    private record Prompt(String text, List<Long> tokenIds) {
    }

    private record Parsed(String model, List<Prompt> prompts, GenerationParams params, boolean stream, boolean includeUsage,
                          Map<String, String> metadata) {
    }

    private void completions(RoutingContext ctx) {
        JsonObject body;
        try {
            body = ctx.body().asJsonObject();
        } catch (DecodeException | ClassCastException e) {
            error(ctx, 400, "invalid_request_error", null, "invalid_json",
                    "We could not parse the JSON body of your request: " + e.getMessage());
            return;
        }
        if (body == null) {
            error(ctx, 400, "invalid_request_error", null, "invalid_json", "The request body must be a JSON object.");
            return;
        }
        Object model = body.getValue("model");
        if (!(model instanceof String name) || name.isEmpty()) {
            error(ctx, 400, "invalid_request_error", "model", "missing_model", "'model' must be a model name (a string).");
            return;
        }
        ModelPackage pkg = models.find(name).orElse(null);
        if (pkg == null) {
            unknownModel(ctx, name);
            return;
        }
        Parsed req;
        try {
            req = parse(body, pkg);
        } catch (BadRequest e) {
            error(ctx, 400, "invalid_request_error", e.param, "invalid_request", e.getMessage());
            return;
        }
        long now = System.currentTimeMillis();
        String completionId = CompletionIds.create(now);
        List<String> ids = new ArrayList<>();
        List<SequenceRequest> requests = new ArrayList<>();
        for (int i = 0; i < req.prompts().size(); i++) {
            Prompt p = req.prompts().get(i);
            String id = CompletionIds.request(completionId, i, req.prompts().size());
            ids.add(id);
            requests.add(SequenceRequest.newBuilder().setId(id).setModel(name).setText(p.text()).setTokenIds(p.tokenIds())
                    .setParams(GenerationParams.newBuilder(req.params()).build()).setMetadata(req.metadata())
                    .setCreatedAtMs(now).build());
        }
        Exchange ex = new Exchange(ctx, completionId, name, now / 1000, ids, req.stream(), req.includeUsage());
        ex.start(i -> gateway.submit(requests.get(i), ex.listener(i)));
        if (req.stream()) {
            streams.increment();
        } else {
            completions.increment();
        }
    }

    private Parsed parse(JsonObject body, ModelPackage pkg) {
        for (String unsupported : List.of("suffix", "logit_bias")) {
            Object v = body.getValue(unsupported);
            if (v != null && !(v instanceof JsonObject o && o.isEmpty())) {
                throw new BadRequest(unsupported, "'" + unsupported + "' is not supported by this gateway.");
            }
        }
        requireAtMost(body, "n", 1);
        requireAtMost(body, "best_of", 1);
        if (Boolean.TRUE.equals(body.getValue("echo"))) {
            throw new BadRequest("echo", "'echo' is not supported by this gateway.");
        }
        if (body.getValue("logprobs") != null) {
            throw new BadRequest("logprobs", "'logprobs' is not supported by this gateway.");
        }
        for (String penalty : List.of("presence_penalty", "frequency_penalty")) {
            Object v = body.getValue(penalty);
            if (v != null && (!(v instanceof Number n) || n.doubleValue() != 0)) {
                throw new BadRequest(penalty, "'" + penalty + "' other than 0 is not supported by this gateway.");
            }
        }
        List<Prompt> prompts = prompts(body.getValue("prompt"));
        GenerationParams.Builder p = GenerationParams.newBuilder();
        Object max = body.getValue("max_tokens");
        if (max == null) {
            p.setMaxNewTokens(pkg.maxNewTokens());
        } else if (max instanceof Integer || max instanceof Long) {
            long m = ((Number) max).longValue();
            if (m < 1) {
                throw new BadRequest("max_tokens", "'max_tokens' must be at least 1, got " + m + ".");
            }
            p.setMaxNewTokens((int) Math.min(m, Integer.MAX_VALUE));
        } else {
            throw new BadRequest("max_tokens", "'max_tokens' must be an integer.");
        }
        double temperature = number(body, "temperature", 0.0);
        p.setTemperature(temperature);
        p.setTopP(number(body, "top_p", 1.0));
        Object seed = body.getValue("seed");
        if (seed == null) {
            p.setRandomSeed(temperature > 0);
        } else if (seed instanceof Integer || seed instanceof Long) {
            p.setSeed(((Number) seed).longValue());
        } else {
            throw new BadRequest("seed", "'seed' must be an integer.");
        }
        p.setStop(stops(body.getValue("stop")));
        Object stream = body.getValue("stream");
        if (stream != null && !(stream instanceof Boolean)) {
            throw new BadRequest("stream", "'stream' must be true or false.");
        }
        boolean includeUsage = false;
        Object options = body.getValue("stream_options");
        if (options instanceof JsonObject o) {
            includeUsage = Boolean.TRUE.equals(o.getValue("include_usage"));
        } else if (options != null) {
            throw new BadRequest("stream_options", "'stream_options' must be an object.");
        }
        Map<String, String> metadata = new HashMap<>();
        Object user = body.getValue("user");
        if (user instanceof String u) {
            metadata.put("user", u);
        } else if (user != null) {
            throw new BadRequest("user", "'user' must be a string.");
        }
        return new Parsed(pkg.name(), prompts, p.build(), Boolean.TRUE.equals(stream), includeUsage, metadata);
    }

    private static void requireAtMost(JsonObject body, String key, int max) {
        Object v = body.getValue(key);
        if (v != null && (!(v instanceof Number n) || n.doubleValue() > max)) {
            throw new BadRequest(key, "'" + key + "' greater than " + max + " is not supported by this gateway.");
        }
    }

    private static double number(JsonObject body, String key, double absent) {
        Object v = body.getValue(key);
        if (v == null) {
            return absent;
        }
        if (!(v instanceof Number n)) {
            throw new BadRequest(key, "'" + key + "' must be a number.");
        }
        return n.doubleValue();
    }

    private static List<Prompt> prompts(Object prompt) {
        if (prompt instanceof String s) {
            return List.of(new Prompt(s, null));
        }
        if (!(prompt instanceof JsonArray a) || a.isEmpty()) {
            throw new BadRequest("prompt", "'prompt' must be a string, an array of strings, or token ids.");
        }
        if (a.stream().allMatch(o -> o instanceof Integer || o instanceof Long)) {
            return List.of(new Prompt(null, tokenIds(a)));
        }
        if (a.size() > MAX_PROMPTS) {
            throw new BadRequest("prompt", "at most " + MAX_PROMPTS + " prompts per request, got " + a.size() + ".");
        }
        List<Prompt> out = new ArrayList<>();
        for (Object o : a) {
            if (o instanceof String s) {
                out.add(new Prompt(s, null));
            } else if (o instanceof JsonArray ids && !ids.isEmpty() && ids.stream().allMatch(x -> x instanceof Integer || x instanceof Long)) {
                out.add(new Prompt(null, tokenIds(ids)));
            } else {
                throw new BadRequest("prompt", "'prompt' must be a string, an array of strings, or token ids.");
            }
        }
        return out;
    }

    private static List<Long> tokenIds(JsonArray a) {
        return a.stream().map(o -> ((Number) o).longValue()).toList();
    }

    private static List<String> stops(Object stop) {
        if (stop == null) {
            return List.of();
        }
        if (stop instanceof String s) {
            return List.of(s);
        }
        if (stop instanceof JsonArray a && a.size() <= 4 && a.stream().allMatch(o -> o instanceof String)) {
            return a.stream().map(Object::toString).toList();
        }
        throw new BadRequest("stop", "'stop' must be a string or an array of at most 4 strings.");
    }

    // ---- cancel --------------------------------------------------------------------------------

    private void cancel(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        if (CompletionIds.createdAtMs(id).isEmpty()) {
            error(ctx, 404, "invalid_request_error", "id", "not_found", "No completion with id '" + id + "'.");
            return;
        }
        try {
            gateway.cancel(id);
        } catch (RuntimeException e) {
            error(ctx, 503, "server_error", null, "unavailable", "The cancel could not be published: " + e.getMessage());
            return;
        }
        json(ctx, 200, new JsonObject().put("id", id).put("object", "text_completion.cancel").put("cancelled", true));
    }

    // ---- resumed streams -----------------------------------------------------------------------

    private void events(RoutingContext ctx) {
        String id = ctx.pathParam("id");
        OptionalLong created = CompletionIds.createdAtMs(id);
        if (created.isEmpty()) {
            error(ctx, 404, "invalid_request_error", "id", "not_found", "No completion with id '" + id + "'.");
            return;
        }
        String last = ctx.request().getHeader("Last-Event-ID");
        if (last == null) {
            last = ctx.request().getParam("last_event_id");
        }
        int after = -1;
        if (last != null && !last.isBlank()) {
            var parsed = CompletionIds.parseEvent(last);
            if (parsed.isEmpty() || !parsed.get().requestId().equals(id)) {
                error(ctx, 400, "invalid_request_error", "Last-Event-ID", "invalid_event_id",
                        "Last-Event-ID must be an event id of this completion, '" + id + "/<n>', got '" + last + "'.");
                return;
            }
            after = parsed.get().index();
        }
        String completionId = id.replaceFirst("-\\d{1,4}$", "");
        int choice = id.equals(completionId) ? 0 : Integer.parseInt(id.substring(completionId.length() + 1));
        Exchange ex = new Exchange(ctx, completionId, "", created.getAsLong() / 1000, List.of(id), true, false);
        ex.choiceBase = choice;
        // everything is replayed, so that the final chunk is reconciled with the whole text; the
        // events up to the client's last one are not sent again
        ex.skipThrough = after;
        ex.start(i -> gateway.resume(id, -1, created.getAsLong(), ex.listener(i)));
        resumes.increment();
    }

    // ---- one HTTP exchange ---------------------------------------------------------------------

    /** An HTTP request waiting for the results (or streaming the events) of its prompts. */
    private final class Exchange {
        final RoutingContext ctx;
        final Context context;
        final String completionId, requestModel;
        final long createdSeconds;
        final List<String> ids;
        final boolean stream, includeUsage;
        final SequenceResult[] results;
        final StringBuilder[] streamed;
        final List<Subscription> subscriptions = new ArrayList<>();
        int choiceBase;
        /** A resumed stream: events up to this index the client has already. */
        int skipThrough = -1;
        int done;
        boolean started, finished;
        long timer = -1;

        Exchange(RoutingContext ctx, String completionId, String model, long createdSeconds, List<String> ids,
                 boolean stream, boolean includeUsage) {
            this.ctx = ctx;
            this.context = vertx.getOrCreateContext();
            this.completionId = completionId;
            this.requestModel = model;
            this.createdSeconds = createdSeconds;
            this.ids = ids;
            this.stream = stream;
            this.includeUsage = includeUsage;
            this.results = new SequenceResult[ids.size()];
            this.streamed = new StringBuilder[ids.size()];
            for (int i = 0; i < ids.size(); i++) {
                streamed[i] = new StringBuilder();
            }
        }

        void start(java.util.function.IntFunction<Subscription> subscribe) {
            timer = vertx.setTimer(Math.max(1, settings.timeout().toMillis()), t -> timedOut());
            ctx.response().closeHandler(v -> clientGone());
            try {
                for (int i = 0; i < ids.size(); i++) {
                    subscriptions.add(subscribe.apply(i));
                }
            } catch (RuntimeException e) {
                finish();
                error(ctx, 503, "server_error", null, "unavailable", "The request could not be published: " + e.getMessage());
            }
        }

        Gateway.Listener listener(int i) {
            return new Gateway.Listener() {
                @Override
                public void token(TokenEvent event) {
                    context.runOnContext(v -> onToken(i, event));
                }

                @Override
                public void result(SequenceResult result) {
                    context.runOnContext(v -> onResult(i, result));
                }
            };
        }

        String model(SequenceResult r) {
            return !requestModel.isEmpty() ? requestModel : r != null && r.getModel() != null ? r.getModel() : "";
        }

        void onToken(int i, TokenEvent e) {
            if (finished || !stream) {
                return;
            }
            streamed[i].append(e.getTextDelta());
            if (e.getIndex() > skipThrough) {
                begin();
                sse(CompletionIds.event(ids.get(i), e.getIndex()), chunk(i, e.getTextDelta(), null, null, null));
            }
        }

        void onResult(int i, SequenceResult r) {
            if (finished || results[i] != null) {
                return;
            }
            results[i] = r;
            done++;
            if (!stream) {
                if (r.getError() != null) {
                    finish();
                    resultError(r);
                } else if (done == ids.size()) {
                    finish();
                    json(ctx, 200, completion());
                }
                return;
            }
            if (r.getError() != null && !started) {
                finish();
                resultError(r);
                return;
            }
            begin();
            if (r.getError() != null) {
                ctx.response().write("data: " + new JsonObject().put("error", errorBody(r)).encode() + "\n\n");
            } else {
                // the result's text is what counts: send what the token events did not (a final
                // detokenization that differs from the pieces), so that the chunks add up to it
                String text = r.getOutputText() == null ? "" : r.getOutputText();
                String sent = streamed[i].toString();
                String rest = text.startsWith(sent) ? text.substring(sent.length()) : "";
                int n = r.getUsage() == null ? 0 : r.getUsage().getGeneratedTokens();
                if (n > skipThrough) {
                    sse(CompletionIds.event(ids.get(i), n), chunk(i, rest, r.getFinishReason(), usage(r), r));
                }
            }
            if (done == ids.size()) {
                if (includeUsage) {
                    ctx.response().write("data: " + base(null).put("choices", new JsonArray()).put("usage", totalUsage()).encode() + "\n\n");
                }
                ctx.response().end("data: [DONE]\n\n");
                finish();
            }
        }

        void begin() {
            if (!started) {
                started = true;
                HttpServerResponse resp = ctx.response();
                resp.setChunked(true).setStatusCode(200)
                        .putHeader("Content-Type", "text/event-stream; charset=utf-8")
                        .putHeader("Cache-Control", "no-cache")
                        .putHeader("X-Accel-Buffering", "no");
            }
        }

        void sse(String eventId, JsonObject data) {
            ctx.response().write("id: " + eventId + "\ndata: " + data.encode() + "\n\n");
        }

        JsonObject base(SequenceResult r) {
            return new JsonObject().put("id", completionId).put("object", "text_completion").put("created", createdSeconds)
                    .put("model", model(r));
        }

        JsonObject chunk(int i, String text, String finishReason, JsonObject usage, SequenceResult r) {
            JsonObject c = base(r).put("choices", new JsonArray().add(new JsonObject().put("text", text)
                    .put("index", choiceBase + i).putNull("logprobs").put("finish_reason", finishReason)));
            if (usage != null) {
                c.put("usage", usage);
            }
            return c;
        }

        JsonObject completion() {
            JsonArray choices = new JsonArray();
            for (int i = 0; i < results.length; i++) {
                choices.add(new JsonObject().put("text", results[i].getOutputText()).put("index", i).putNull("logprobs")
                        .put("finish_reason", results[i].getFinishReason()));
            }
            return base(results[0]).put("choices", choices).put("usage", totalUsage());
        }

        JsonObject totalUsage() {
            int prompt = 0, generated = 0;
            for (SequenceResult r : results) {
                if (r != null && r.getUsage() != null) {
                    prompt += r.getUsage().getPromptTokens();
                    generated += r.getUsage().getGeneratedTokens();
                }
            }
            return new JsonObject().put("prompt_tokens", prompt).put("completion_tokens", generated).put("total_tokens", prompt + generated);
        }

        JsonObject usage(SequenceResult r) {
            int prompt = r.getUsage().getPromptTokens(), generated = r.getUsage().getGeneratedTokens();
            return new JsonObject().put("prompt_tokens", prompt).put("completion_tokens", generated).put("total_tokens", prompt + generated);
        }

        void resultError(SequenceResult r) {
            int status = statusOf(r);
            if (status == 503) {
                ctx.response().putHeader("Retry-After", "1");
            }
            send(ctx, status, new JsonObject().put("error", errorBody(r)));
        }

        void timedOut() {
            timer = -1;
            if (finished) {
                return;
            }
            String message = "The request did not complete within " + settings.timeout().toSeconds() + " s.";
            if (started) {
                ctx.response().write("data: " + new JsonObject().put("error", errorJson("timeout", null, "timeout", message)).encode() + "\n\n");
                ctx.response().end("data: [DONE]\n\n");
                errors.computeIfAbsent(504, k -> new LongAdder()).increment();
                finish();
            } else {
                finish();
                error(ctx, 504, "timeout", null, "timeout", message);
            }
        }

        /**
         * The client went away before the end: the requests still running are cancelled after the
         * grace period, unless a client resumed their stream meanwhile.
         */
        void clientGone() {
            if (finished) {
                return;
            }
            List<String> running = new ArrayList<>();
            for (int i = 0; i < ids.size(); i++) {
                if (results[i] == null) {
                    running.add(ids.get(i));
                }
            }
            finish();
            long gone = System.nanoTime();
            vertx.setTimer(Math.max(1, settings.cancelGrace().toMillis()), t -> running.forEach(id -> {
                if (!gateway.resumedSince(id, gone)) {
                    try {
                        gateway.cancel(id);
                    } catch (RuntimeException e) {
                        // the broker is away: the request runs to its end
                    }
                }
            }));
        }

        void finish() {
            if (!finished) {
                finished = true;
                subscriptions.forEach(Subscription::close);
                if (timer >= 0) {
                    vertx.cancelTimer(timer);
                }
            }
        }
    }

    private static int statusOf(SequenceResult r) {
        String code = r.getError().getCode();
        if (code.equals("unknown_model")) {
            return 404;
        }
        if (INPUT_ERRORS.contains(code)) {
            return 400;
        }
        if (r.getError().getRetryable()) {
            return 503;
        }
        return 500;
    }

    private static JsonObject errorBody(SequenceResult r) {
        int status = statusOf(r);
        String type = status == 400 || status == 404 ? "invalid_request_error" : status == 503 ? "overloaded_error" : "server_error";
        return errorJson(type, status == 400 ? "prompt" : null, r.getError().getCode(), r.getError().getMessage());
    }

    private static JsonObject errorJson(String type, String param, String code, String message) {
        return new JsonObject().put("message", message).put("type", type).put("param", param).put("code", code);
    }

    private void error(RoutingContext ctx, int status, String type, String param, String code, String message) {
        send(ctx, status, new JsonObject().put("error", errorJson(type, param, code, message)));
    }

    private void send(RoutingContext ctx, int status, JsonObject body) {
        if (status >= 400) {
            errors.computeIfAbsent(status, k -> new LongAdder()).increment();
        }
        json(ctx, status, body);
    }

    private static void json(RoutingContext ctx, int status, JsonObject body) {
        HttpServerResponse resp = ctx.response();
        if (resp.ended() || resp.closed()) {
            return;
        }
        resp.setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
    }

    private void failure(RoutingContext ctx) {
        int status = ctx.statusCode() > 0 ? ctx.statusCode() : 500;
        if (status == 413) {
            error(ctx, 413, "invalid_request_error", null, "request_too_large",
                    "The request body is larger than " + settings.maxBodyBytes() + " bytes.");
        } else if (status == 400) {
            error(ctx, 400, "invalid_request_error", null, "invalid_request", "The request could not be read.");
        } else {
            error(ctx, status, "server_error", null, "internal_error",
                    ctx.failure() == null ? "HTTP " + status : "The gateway failed: " + ctx.failure().getMessage());
        }
    }
}
