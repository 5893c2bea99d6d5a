package org.seqstream.loadtest;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The load-test tool: {@code run} against a pipeline, {@code inprocess} for the baseline, {@code report}. */
@Command(name = "seqload", mixinStandardHelpOptions = true, version = "seqload 0.1.0",
        description = "Load tests for the seqstream pipeline.",
        subcommands = {RunCommand.class, InProcessCommand.class, ReportCommand.class})
public final class SeqLoad implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new SeqLoad()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
