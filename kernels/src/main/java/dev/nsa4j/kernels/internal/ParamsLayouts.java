package dev.nsa4j.kernels.internal;

import java.util.Arrays;
import java.util.List;

/**
 * Every params struct's Java layout, in the order the probe kernel {@code nsa_params_layout}
 * (params_layout.cu) reports them. Adding a kernel family adds its layout here and to the probe.
 */
public final class ParamsLayouts {
    public static final List<StructLayout> ALL = List.of(GateCombineParams.LAYOUT, CompressAvgParams.LAYOUT,
            AttnParams.LAYOUT, BlockSelectParams.LAYOUT,
            CompressMlpParams.LAYOUT,
            SelGatherParams.LAYOUT, CastParams.LAYOUT, DecodeParams.LAYOUT,
            AttnBwdParams.LAYOUT, GateBwdParams.LAYOUT, CompressAvgBwdParams.LAYOUT, CompressMlpBwdParams.LAYOUT);

    private ParamsLayouts() {
    }

    /** What the probe should write: [count, (sizeof, offsets...) per struct]. */
    public static long[] expectedProbe() {
        return expectedProbe(ALL);
    }

    /** What a probe kernel reporting {@code layouts} in order writes: [count, (sizeof, offsets...) per struct]. */
    public static long[] expectedProbe(List<StructLayout> layouts) {
        long[] body = layouts.stream().map(StructLayout::probeImage).flatMapToLong(Arrays::stream).toArray();
        long[] out = new long[body.length + 1];
        out[0] = out.length;
        System.arraycopy(body, 0, out, 1, body.length);
        return out;
    }

    /** A readable difference between the probe's answer and the Java layouts, or {@code null} if equal. */
    public static String diff(long[] probe) {
        long[] want = expectedProbe();
        if (probe.length < 1 || probe[0] != want.length) {
            return "probe wrote " + (probe.length < 1 ? "nothing" : probe[0] + " values") + ", Java layouts expect "
                    + want.length + " (a field was added or removed on one side)";
        }
        StringBuilder sb = new StringBuilder();
        int i = 1;
        for (StructLayout l : ALL) {
            if (probe[i] != l.size()) {
                sb.append(l.name()).append(": sizeof device ").append(probe[i]).append(" Java ").append(l.size()).append('\n');
            }
            i++;
            for (StructLayout.Field f : l.fields()) {
                if (probe[i] != f.offset()) {
                    sb.append(l.name()).append('.').append(f.name()).append(": offset device ").append(probe[i])
                            .append(" Java ").append(f.offset()).append('\n');
                }
                i++;
            }
        }
        return sb.isEmpty() ? null : sb.toString();
    }
}
