package dev.nsa4j.bench;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code nsa version}: the nsa4j and Java versions and which backends this build has. */
@Command(name = "version", description = "Print the nsa4j and Java versions and the backends of this build.",
        mixinStandardHelpOptions = true, versionProvider = NsaCli.Version.class)
final class VersionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        var out = spec.commandLine().getOut();
        out.println("nsa4j " + NsaCli.version());
        out.println("java " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        out.println("backends: cpu (oracle); GPU paths arrive with the kernels module");
        out.flush();
        return 0;
    }
}
