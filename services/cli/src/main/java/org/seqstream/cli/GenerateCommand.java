package org.seqstream.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.seqstream.runtime.Generation;
import org.seqstream.runtime.Generator;
import org.seqstream.runtime.InputException;
import org.seqstream.runtime.SamplingParams;
import org.seqstream.runtime.TextTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Reads one input per line on stdin and prints one JSON object per line, in input order: the
 * output, finish_reason and generated_tokens, or an error for that line alone.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate with the in-process reference generator: one input per stdin line, one JSON line out.")
final class GenerateCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, paramLabel = "NAME", description = "Model package name, e.g. itn-seq2seq.")
    String model;

    @Mixin
    ModelOptions models;

    @Mixin
    GenerationOptions generation;

    @Option(names = "--truncate", description = "Cut inputs longer than the model accepts instead of refusing them.")
    boolean truncate;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "N",
            description = "Lines generated together (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Override
    public Integer call() throws Exception {
        if (batchSize < 1) {
            System.err.println("seqctl generate: --batch-size must be at least 1");
            return 2;
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try (ModelOptions.Opened m = models.open(model)) {
            SamplingParams params = generation.params(m.pkg().maxNewTokens());
            try {
                params.validate(m.pkg());
            } catch (InputException e) {
                System.err.println("seqctl generate: " + e.getMessage());
                return 2;
            }
            Generator gen = new Generator(m.model(), m.tokenizer());
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            List<String> chunk = new ArrayList<>();
            for (String line; (line = in.readLine()) != null; ) {
                chunk.add(line.endsWith("\r") ? line.substring(0, line.length() - 1) : line);
                if (chunk.size() == batchSize) {
                    emit(gen, m, params, chunk, out);
                    chunk.clear();
                }
            }
            emit(gen, m, params, chunk, out);
        }
        return 0;
    }

    /** Generates the valid lines of {@code lines} as one batch and prints every line's record in order. */
    private void emit(Generator gen, ModelOptions.Opened m, SamplingParams params, List<String> lines, PrintStream out)
            throws Exception {
        List<Map<String, Object>> records = new ArrayList<>();
        List<Generator.Request> batch = new ArrayList<>();
        List<Integer> index = new ArrayList<>();
        for (String line : lines) {
            Map<String, Object> rec = new LinkedHashMap<>();
            rec.put("input", line);
            records.add(rec);
            try {
                TextTokenizer.Encoded enc = m.tokenizer().encode(line, truncate);
                Generator.Request r = new Generator.Request(enc.ids(), params);
                gen.check(r);
                if (enc.truncated()) {
                    rec.put("truncated", true);
                }
                batch.add(r);
                index.add(records.size() - 1);
            } catch (InputException e) {
                rec.put("error", e.getMessage());
                rec.put("error_code", e.code());
            }
        }
        List<Generation> results = gen.generate(batch);
        for (int i = 0; i < results.size(); i++) {
            Generation g = results.get(i);
            Map<String, Object> rec = records.get(index.get(i));
            rec.put("output", g.text());
            rec.put("finish_reason", g.finishReason());
            rec.put("generated_tokens", g.generatedTokens());
            if (!params.isGreedy()) {
                rec.put("seed", params.seed());
            }
        }
        for (Map<String, Object> rec : records) {
            out.println(JSON.writeValueAsString(rec));
        }
        out.flush();
    }
}
