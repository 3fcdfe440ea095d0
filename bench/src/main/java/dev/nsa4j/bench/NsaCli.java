package dev.nsa4j.bench;

import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code nsa} command line: {@code nsa run}, {@code nsa attend}, {@code nsa decode}, {@code nsa bench},
 * {@code nsa routing}, {@code nsa doctor}, {@code nsa version}.
 *
 * <p>Exit codes: 0 success; 2 usage errors and bad input (unknown option, bad value, missing or malformed
 * .npy file, a tensor of the wrong shape or dtype: everything that is the caller's to fix, as picocli's
 * convention); 1 internal and I/O errors. Errors are one line on stderr; {@code --verbose} adds the stack
 * trace.
 */
@Command(name = "nsa", mixinStandardHelpOptions = true, versionProvider = NsaCli.Version.class,
        description = "Native Sparse Attention (arXiv 2502.11089) on the JVM: forward and decode on NVIDIA GPUs, the "
                + "CPU oracle (forward, decode, backward) everywhere.",
        subcommands = {RunCommand.class, GradCommand.class, AttendCommand.class, DecodeCommand.class, BenchCommand.class,
                RoutingCommand.class, DoctorCommand.class, VersionCommand.class, CommandLine.HelpCommand.class})
public final class NsaCli implements Runnable {
    @Spec
    CommandSpec spec;

    /**
     * The {@code -v/--verbose} option, mixed into the commands that have it ({@code @Mixin}): errors show
     * their stack traces, and {@link #configureLogging} lets NSA-LOG lines through on stderr.
     */
    static final class VerboseOption {
        @Option(names = {"-v", "--verbose"}, description = "Stack traces on errors; NSA-LOG lines on stderr.")
        boolean verbose;
    }

    /** Input the user must fix (exit code 2) that is not about a tensor or a flag. */
    static final class UsageProblem extends RuntimeException {
        UsageProblem(String message) {
            super(message);
        }
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(),
                "missing command: choose one of run, attend, decode, bench, routing, doctor, version, help");
    }

    public static void main(String[] args) {
        configureLogging(args);
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        int code = execute(args, out, err);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs the command line with the given streams and returns the exit code (tests call this). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new NsaCli());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler(NsaCli::usageError);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> failure(ex, cmd));
        return cl.execute(args);
    }

    /** slf4j-simple: warnings only, unless --verbose (then NSA-LOG lines at info too). Set before any logger. */
    private static void configureLogging(String[] args) {
        boolean verbose = false;
        for (String a : args) {
            verbose |= a.equals("--verbose") || a.equals("-v");
        }
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "info" : "warn");
        }
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    }

    private static int usageError(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        String name = cl.getCommandSpec().qualifiedName();
        cl.getErr().println(name + ": " + ex.getMessage() + " (see '" + name + " --help')");
        if (verbose(cl)) {
            ex.printStackTrace(cl.getErr());
        }
        return 2;
    }

    private static int failure(Exception ex, CommandLine cl) {
        PrintWriter err = cl.getErr();
        String name = cl.getCommandSpec().qualifiedName();
        int code;
        if (ex instanceof NsaArgumentException || ex instanceof UsageProblem) {
            err.println(name + ": error: " + ex.getMessage());
            code = 2;
        } else if (ex instanceof IOException || ex instanceof UncheckedIOException) {
            Throwable io = ex instanceof UncheckedIOException u ? u.getCause() : ex;
            String what = io instanceof FileSystemException fs ? describe(fs) : String.valueOf(io.getMessage());
            err.println(name + ": I/O error: " + what);
            code = 1;
        } else {
            err.println(name + ": internal error: " + ex + (verbose(cl) ? "" : " (rerun with --verbose for the stack trace)"));
            code = 1;
        }
        if (verbose(cl)) {
            ex.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    private static boolean verbose(CommandLine cl) {
        return cl.getCommandSpec().mixins().values().stream()
                .anyMatch(m -> m.userObject() instanceof VerboseOption v && v.verbose);
    }

    private static String describe(FileSystemException e) {
        String kind = e.getClass().getSimpleName().replace("Exception", "");
        return e.getFile() + (e.getOtherFile() != null ? " -> " + e.getOtherFile() : "") + ": "
                + (e.getReason() != null ? e.getReason() : kind);
    }

    /**
     * The implementation version from the jar manifest (on the module path: the jar's module version), or "dev"
     * when run from classes.
     */
    static String version() {
        String v = NsaCli.class.getPackage().getImplementationVersion();
        if (v == null && NsaCli.class.getModule().getDescriptor() != null) {
            v = NsaCli.class.getModule().getDescriptor().rawVersion().orElse(null);
        }
        return v == null ? "dev" : v;
    }

    /** For {@code nsa --version}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"nsa4j " + version() + " (Java " + Runtime.version() + ")"};
        }
    }
}
