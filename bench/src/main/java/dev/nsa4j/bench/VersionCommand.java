package dev.nsa4j.bench;

import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.GpuAvailability;
import dev.nsa4j.kernels.internal.KernelImage;
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
        GpuAvailability gpu = GpuAvailability.check();
        for (DeviceInfo d : gpu.discovery().devices()) {
            out.println("device " + d);
        }
        out.println("kernel image: " + (KernelImage.isBuilt() ? "built (" + KernelImage.RESOURCE + ")" : "not built"));
        out.println("backends: cpu (oracle); gpu paths sdpa, sdpa-masked, sdpa-packed, fa2, sel-kernel "
                + (gpu.available() ? "available" : "unavailable: " + gpu.reason()));
        out.flush();
        return 0;
    }
}
