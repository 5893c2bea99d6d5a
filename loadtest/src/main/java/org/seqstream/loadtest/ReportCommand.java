package org.seqstream.loadtest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The benchmark report: a markdown file with the in-process baseline, the pipeline at each load,
 * peak memory, the ratios against the targets, and a self-contained HTML chart.
 */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Write report.md and chart.html from the JSON of inprocess and run.")
final class ReportCommand implements Callable<Integer> {
    @Option(names = "--inprocess", required = true, paramLabel = "FILE") Path inprocess;
    @Option(names = "--pipeline", required = true, paramLabel = "FILE",
            description = "The JSON of seqload run (repeatable, one per stack); ratios use the first.") List<Path> pipelines;
    @Option(names = "--rss", paramLabel = "FILE", description = "JSON object: process name to peak RSS in MB.") Path rss;
    @Option(names = "--pytorch", paramLabel = "FILE", description = "The table printed by seqctl bench (PyTorch eager next to Java).") Path pytorch;
    @Option(names = "--machine", defaultValue = "", paramLabel = "TEXT") String machine;
    @Option(names = "--memory-budget", defaultValue = "600", paramLabel = "MB",
            description = "Peak resident memory no service may exceed (default: ${DEFAULT-VALUE}, the shipped models' budget).") double memoryBudget;
    @Option(names = "--size-targets", description = "Also hold the realistic-size targets: pipeline >= 0.9 x in-process at every load, in-process batch 64 >= 8 x batch 1.") boolean sizeTargets;
    @Option(names = "--command", defaultValue = "", paramLabel = "TEXT", description = "The command that produced the report.") String command;
    @Option(names = "--out-dir", required = true, paramLabel = "DIR") Path outDir;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        JsonNode in = JSON.readTree(inprocess.toFile());
        List<JsonNode> pipes = new ArrayList<>();
        for (Path p : pipelines) {
            pipes.add(JSON.readTree(p.toFile()));
        }
        JsonNode pipe = pipes.get(0);
        Map<Integer, Double> batched = new LinkedHashMap<>();
        in.get("batches").forEach(b -> batched.put(b.get("batch").asInt(), b.get("tokens_per_s").asDouble()));
        double single = in.get("single_request_ms").get("p50").asDouble();
        List<JsonNode> levels = new ArrayList<>();
        pipe.get("levels").forEach(levels::add);
        Files.createDirectories(outDir);
        StringBuilder md = new StringBuilder();
        md.append("# Benchmark report: ").append(pipe.get("model").asText()).append("\n\n");
        if (!command.isEmpty()) {
            md.append("Produced by:\n\n```\n").append(command).append("\n```\n\n");
        }
        if (!machine.isEmpty()) {
            md.append("Machine: ").append(machine).append("\n\n");
        }
        md.append(org.seqstream.runtime.TimerResolution.line()).append("\n\n");
        md.append("Greedy decoding, inputs from the test split, tokens = generated tokens. Every figure below comes from this one run.\n\n");
        md.append("Pipeline requests/s and tokens/s: the results and token events that arrived within a level's measured"
                + " window, over its length; latencies: the requests sent within it.\n\n");
        if (pytorch != null && Files.exists(pytorch)) {
            md.append("## PyTorch eager and the Java in-process generator (`seqctl bench`)\n\n").append(Files.readString(pytorch).strip()).append("\n\n");
        }
        md.append("## In-process generator (the baseline)\n\n| batch | tokens/s |\n|---:|---:|\n");
        batched.forEach((b, t) -> md.append(String.format(Locale.ROOT, "| %d | %.0f |%n", b, t)));
        md.append(String.format(Locale.ROOT, "%nOne request alone (tokenize, encode, decode): p50 %.1f ms, p90 %.1f ms.%n%n",
                single, in.get("single_request_ms").get("p90").asDouble()));
        for (JsonNode pj : pipes) {
            List<JsonNode> ls = new ArrayList<>();
            pj.get("levels").forEach(ls::add);
            md.append("## Pipeline: ").append(pj.path("stack").asText("")).append("\n\n");
            md.append("| load | requests/s | tokens/s | TTFT p50 / p99 ms | end-to-end p50 / p90 / p99 ms | inter-token p50 / p99 ms | lost | in-process tokens/s at batch = load | pipeline / in-process |\n");
            md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (JsonNode l : ls) {
                String load = l.get("mode").asText() + " " + RunCommand.fmt(l.get("level").asDouble());
                Double base = l.get("mode").asText().equals("concurrency") ? batched.get(l.get("level").asInt()) : null;
                double tps = l.get("tokens_per_s").asDouble();
                md.append(String.format(Locale.ROOT, "| %s | %.1f | %.0f | %s / %s | %s / %s / %s | %s / %s | %d | %s | %s |%n", load,
                        l.get("requests_per_s").asDouble(), tps,
                        p(l, "ttft_ms", "p50"), p(l, "ttft_ms", "p99"), p(l, "e2e_ms", "p50"), p(l, "e2e_ms", "p90"), p(l, "e2e_ms", "p99"),
                        p(l, "itl_ms", "p50"), p(l, "itl_ms", "p99"), l.get("lost").asLong(),
                        base == null ? "-" : String.format(Locale.ROOT, "%.0f", base), base == null ? "-" : String.format(Locale.ROOT, "%.2f", tps / base)));
            }
            md.append("\n");
        }
        md.append("Token events become visible to readers when the decoder commits (when results are ready, else within "
                + "its 50 ms commit interval), several at a time: inter-token latency is 0 between tokens of one commit.\n");
        md.append("\n## Ratios and targets (").append(pipe.path("stack").asText("first pipeline")).append(")\n\n| measure | value | target | met |\n|---|---:|---:|---|\n");
        JsonNode c64 = find(levels, 64), c1 = find(levels, 1);
        if (c64 != null && batched.containsKey(64)) {
            double r = c64.get("tokens_per_s").asDouble() / batched.get(64);
            md.append(row("pipeline tokens/s at concurrency 64 ÷ in-process batched at 64", r, ">= 0.85", r >= 0.85));
        }
        if (c64 != null && batched.containsKey(1)) {
            double r = c64.get("tokens_per_s").asDouble() / batched.get(1);
            md.append(row("pipeline tokens/s at concurrency 64 ÷ in-process at batch 1", r, ">= 5.00", r >= 5));
        }
        if (c1 != null) {
            double p50 = c1.get("e2e_ms").get("p50").asDouble();
            md.append(row("pipeline p50 latency at concurrency 1 ÷ in-process single request", p50 / single, "-", true).replace("| yes |", "| - |"));
            md.append(String.format(Locale.ROOT, "| pipeline p50 latency at concurrency 1 − in-process single request (ms) | %.1f | <= 40 | %s |%n",
                    p50 - single, p50 - single <= 40 ? "yes" : "no"));
        }
        double lowest = Double.MAX_VALUE;
        String lowestAt = "";
        for (JsonNode l : levels) {
            Double base = batched.get(l.get("level").asInt());
            if (base != null && base > 0 && l.get("tokens_per_s").asDouble() / base < lowest) {
                lowest = l.get("tokens_per_s").asDouble() / base;
                lowestAt = RunCommand.fmt(l.get("level").asDouble());
            }
        }
        if (!lowestAt.isEmpty()) {
            md.append(sizeTargets ? row("lowest pipeline ÷ in-process over the loads (at concurrency " + lowestAt + ")", lowest, ">= 0.90", lowest >= 0.9)
                    : row("lowest pipeline ÷ in-process over the loads (at concurrency " + lowestAt + ")", lowest, "-", true).replace("| yes |", "| - |"));
        }
        if (batched.containsKey(64) && batched.containsKey(1)) {
            double r = batched.get(64) / batched.get(1);
            md.append(sizeTargets ? row("in-process tokens/s at batch 64 ÷ batch 1", r, ">= 8.00", r >= 8)
                    : row("in-process tokens/s at batch 64 ÷ batch 1", r, "-", true).replace("| yes |", "| - |"));
        }
        if (rss != null && Files.exists(rss)) {
            md.append("\n## Peak resident memory (VmHWM)\n\n| process | MB |\n|---|---:|\n");
            JsonNode r = JSON.readTree(rss.toFile());
            double max = 0;
            for (var it = r.fields(); it.hasNext(); ) {
                var e = it.next();
                md.append(String.format(Locale.ROOT, "| %s | %s |%n", e.getKey(), e.getValue().asText()));
                if (!e.getKey().equals("broker")) {
                    max = Math.max(max, e.getValue().asDouble());
                }
            }
            md.append(String.format(Locale.ROOT, "%nLargest service: %.0f MB (target: no service above %.0f MB): %s.%n", max,
                    memoryBudget, max <= memoryBudget ? "met" : "not met"));
        }
        md.append("\nChart: [chart.html](chart.html) (latency percentiles and throughput against load).\n");
        Files.writeString(outDir.resolve("report.md"), md.toString());
        Files.writeString(outDir.resolve("chart.html"), chart(pipe.get("model").asText(), levels, batched));
        System.err.println("seqload report: wrote " + outDir.resolve("report.md") + " and chart.html");
        return 0;
    }

    private static JsonNode find(List<JsonNode> levels, int concurrency) {
        return levels.stream().filter(l -> l.get("mode").asText().equals("concurrency") && l.get("level").asInt() == concurrency)
                .findFirst().orElse(null);
    }

    private static String p(JsonNode l, String metric, String pct) {
        JsonNode v = l.get(metric).get(pct);
        return v == null ? "-" : String.format(Locale.ROOT, "%.0f", v.asDouble());
    }

    private static String row(String name, double value, String target, boolean met) {
        return String.format(Locale.ROOT, "| %s | %.2f | %s | %s |%n", name, value, target, met ? "yes" : "no");
    }

    /** Two inline SVG panels: latency percentiles against load, and tokens/s against load. */
    static String chart(String model, List<JsonNode> levels, Map<Integer, Double> batched) {
        List<String> labels = new ArrayList<>();
        levels.forEach(l -> labels.add(l.get("mode").asText().charAt(0) + "=" + RunCommand.fmt(l.get("level").asDouble())));
        Map<String, double[]> lat = new LinkedHashMap<>();
        for (String[] s : new String[][] {{"e2e p50", "e2e_ms", "p50"}, {"e2e p90", "e2e_ms", "p90"}, {"e2e p99", "e2e_ms", "p99"},
                {"TTFT p50", "ttft_ms", "p50"}, {"inter-token p99", "itl_ms", "p99"}}) {
            lat.put(s[0], levels.stream().mapToDouble(l -> l.get(s[1]).path(s[2]).asDouble(Double.NaN)).toArray());
        }
        Map<String, double[]> thr = new LinkedHashMap<>();
        thr.put("pipeline", levels.stream().mapToDouble(l -> l.get("tokens_per_s").asDouble()).toArray());
        thr.put("in-process, batch = load", levels.stream().mapToDouble(l -> l.get("mode").asText().equals("concurrency")
                ? batched.getOrDefault(l.get("level").asInt(), Double.NaN) : Double.NaN).toArray());
        return "<!doctype html><html><head><meta charset=\"utf-8\"><title>seqstream benchmark: " + model + "</title>"
                + "<style>body{font-family:sans-serif;margin:2em}svg{border:1px solid #ccc;margin:1em 0}</style></head><body>"
                + "<h1>seqstream benchmark: " + model + "</h1>"
                + panel("Latency (ms) against load", labels, lat) + panel("Throughput (tokens/s) against load", labels, thr)
                + "</body></html>\n";
    }

    private static final String[] COLORS = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"};

    private static String panel(String title, List<String> labels, Map<String, double[]> series) {
        int w = 720, h = 360, left = 70, right = 200, top = 40, bottom = 50;
        double max = series.values().stream().flatMapToDouble(java.util.Arrays::stream).filter(v -> !Double.isNaN(v)).max().orElse(1);
        max = max <= 0 ? 1 : max * 1.1;
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "<svg width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">", w, h));
        s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"24\" font-size=\"16\">%s</text>", left, title));
        int pw = w - left - right, ph = h - top - bottom;
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>", left, top + ph, left + pw, top + ph));
        s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#000\"/>", left, top, left, top + ph));
        for (int i = 0; i <= 4; i++) {
            double v = max * i / 4;
            int y = top + ph - (int) (ph * i / 4.0);
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.0f</text>", left - 6, y + 4, v));
            s.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/>", left, y, left + pw, y));
        }
        int n = labels.size();
        for (int i = 0; i < n; i++) {
            int x = left + (n == 1 ? pw / 2 : pw * i / (n - 1));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>", x, top + ph + 18, labels.get(i)));
        }
        int k = 0;
        for (var e : series.entrySet()) {
            String color = COLORS[k % COLORS.length];
            StringBuilder pts = new StringBuilder();
            double[] v = e.getValue();
            for (int i = 0; i < v.length; i++) {
                if (Double.isNaN(v[i])) {
                    continue;
                }
                int x = left + (n == 1 ? pw / 2 : pw * i / (n - 1));
                int y = top + ph - (int) (ph * v[i] / max);
                pts.append(x).append(',').append(y).append(' ');
                s.append(String.format(Locale.ROOT, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"><title>%s: %.1f</title></circle>", x, y, color, e.getKey(), v[i]));
            }
            s.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>", color, pts.toString().trim()));
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>", left + pw + 12, top + 16 + 18 * k, color, e.getKey()));
            k++;
        }
        return s.append("</svg>").toString();
    }
}
