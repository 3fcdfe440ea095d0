package dev.nsa4j.bench;

import dev.nsa4j.fa2.Fa2Audit;
import dev.nsa4j.nsa.DeviceRequest;
import dev.nsa4j.nsa.FlagSnapshot;
import dev.nsa4j.nsa.Flags;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nsa doctor}: the FA-2 start-up audit ({@link Fa2Audit}) as a readable report (device, driver,
 * CUDA, JCuda, nsa4j and Java versions, the FA-2 kernel image, each probe's result), the routing summary for
 * head dim 128 ({@code nsa routing}'s report, {@link RoutingCommand#print}), and a one-line verdict. A
 * diagnosis: it exits 0 whether or not FA-2 is available.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = NsaCli.Version.class,
        description = {
            "Diagnose the GPU setup: device, NVIDIA driver and CUDA versions, JCuda, nsa4j and Java versions, the "
                    + "FA-2 kernel image (size, SASS archs, whether one runs here), and one tiny FA-2 forward per "
                    + "head dim (32..256) and dtype (fp16, bf16) checked against the reference path sdpa; then the "
                    + "routing flags for head dim 128 and a one-line verdict.",
            "",
            "The probes use the FA-2 contract options of the flags (NSA_FA2_ALLOW_D_GT_128, NSA_FA2_FORCE). "
                    + "NSA_FA2_AUDIT=1 logs the same audit from the library when it opens a GPU.",
            "",
            "Exit codes: 0 the diagnosis was made (FA-2 available or not), 2 usage or bad input (a bad flag "
                    + "value, a missing or invalid NSA_PROFILE file), 1 internal error."})
final class DoctorCommand implements Callable<Integer> {
    /** The head dim whose routing summary the report ends with. */
    static final int ROUTING_HEAD_DIM = 128;

    @Spec
    CommandSpec spec;

    @Option(names = "--device", paramLabel = "auto|N", converter = RunCommand.DeviceConverter.class,
            description = "The CUDA device to diagnose: auto (device 0, or NSA_DEVICE's ordinal) or a CUDA ordinal.")
    DeviceRequest device;

    @Mixin
    NsaCli.VerboseOption verbosity;

    @Override
    public Integer call() {
        if (device != null && device.kind() == DeviceRequest.Kind.CPU) {
            throw new ParameterException(spec.commandLine(), "--device cpu: doctor diagnoses a GPU; use auto or a "
                    + "CUDA ordinal (routing on the CPU: nsa routing --device cpu)");
        }
        FlagSnapshot base = Flags.snapshot();
        DeviceRequest fromEnv = DeviceRequest.parse(base.device());
        DeviceRequest d = device != null ? device : fromEnv;
        int ordinal = d.kind() == DeviceRequest.Kind.ORDINAL ? d.ordinal() : 0;
        Fa2Audit.Report report = Fa2Audit.run(ordinal, base.fa2Options(), NsaCli.version());
        // the routing a forward pass would use: NSA_DEVICE=cpu keeps it on the CPU, else this device or the CPU
        boolean cpuRequested = device == null && fromEnv.kind() == DeviceRequest.Kind.CPU;
        RoutingCommand.Resolved routing = RoutingCommand.resolve(base,
                cpuRequested ? DeviceRequest.CPU : new DeviceRequest(DeviceRequest.Kind.ORDINAL, ordinal), true);
        StringWriter table = new StringWriter();
        RoutingCommand.print(new PrintWriter(table), routing, ROUTING_HEAD_DIM);   // resolved before anything prints

        PrintWriter out = spec.commandLine().getOut();
        report.describe().forEach(out::println);
        out.println();
        out.println("routing (head dim " + ROUTING_HEAD_DIM + (cpuRequested ? "; NSA_DEVICE=cpu keeps nsa4j on the CPU" : "")
                + "):");
        for (String line : table.toString().split("\\R")) {
            out.println(line.isEmpty() ? "" : "  " + line);
        }
        out.println();
        out.println(report.verdict());
        out.flush();
        return 0;
    }
}
