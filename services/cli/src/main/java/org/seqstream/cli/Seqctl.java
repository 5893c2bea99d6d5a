package org.seqstream.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** seqctl: the project's command line. */
@Command(name = "seqctl", mixinStandardHelpOptions = true, version = "seqctl 0.1.0",
        description = "Transformer sequence models served as Kafka streams.",
        subcommands = {GenerateCommand.class, LocalCommand.class, SendCommand.class, CancelCommand.class, TailCommand.class, DemoCommand.class, AccuracyCommand.class, BenchCommand.class, PipelineBenchCommand.class})
public final class Seqctl {
    public static void main(String[] args) {
        System.exit(new CommandLine(new Seqctl()).execute(args));
    }
}
