package dev.nsa4j.fa2;

import java.util.List;
import java.util.Objects;

import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.kernels.internal.TensorMaps;
import dev.nsa4j.tensor.DType;

/**
 * Which FlashAttention forward kernel family runs a call (docs/routing.md, path {@code fa2}):
 * <ul>
 * <li>{@link #MMA_SYNC}: fa2_fwd.cu, every compiled (Dk, Dv), SM 8.0 and 9.0, split-KV;</li>
 * <li>{@link #HOPPER}: fa2_hopper.cu, SM 9.0 only, Dk = Dv = 128, one split: a producer warpgroup loads Q, K and V
 *     with the tensor memory accelerator, two consumer warpgroups multiply with wgmma (docs/decisions.md D31). It
 *     needs the tensors as TMA rows ({@link TensorMaps.Rows#problems}; dense inputs whose batches follow each other)
 *     and enough keys per query row to hide its deeper pipeline ({@link Fa2Options#hopperMinKeys()}).</li>
 * </ul>
 */
public enum Fa2Layout {
    MMA_SYNC("mma.sync"),
    HOPPER("hopper");

    /** Query rows per CTA of the Hopper layout (two consumer warpgroups of 64). */
    public static final int HOPPER_BLOCK_M = 128;
    /** Threads per CTA of the Hopper layout: one producer and two consumer warpgroups. */
    public static final int HOPPER_THREADS = 384;
    /** Key rows per TMA box of K and V (one 128-key tile), and of Q (one consumer's 64 rows). */
    public static final int HOPPER_KV_BOX = 128;
    public static final int HOPPER_Q_BOX = 64;
    /** The Hopper layout's head dim (Dk = Dv). */
    public static final int HOPPER_DIM = 128;
    /** Dynamic shared memory of a Hopper CTA: 1024 bytes of alignment slack, Q (128 x 128), two K + V stages. */
    public static final int HOPPER_SMEM_BYTES = 1024 + HOPPER_BLOCK_M * HOPPER_DIM * 2 + 2 * (2 * 128 * HOPPER_DIM * 2);

    private final String label;

    Fa2Layout(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /**
     * The layout of one call and why, as the route prints it ({@code hopper layout (SM 9.0; keys 1023 >= 512)},
     * {@code mma.sync layout (keys 255 < NSA_FA2_HOPPER_MIN_KEYS = 512)}); for the Hopper layout the TMA rows of
     * q, k and v (the tensor maps {@link Fa2Attention#enqueue} encodes).
     */
    public record Choice(Fa2Layout layout, String reason, TensorMaps.Rows q, TensorMaps.Rows k, TensorMaps.Rows v) {
        public Choice {
            Objects.requireNonNull(layout, "layout");
            Objects.requireNonNull(reason, "reason");
        }

        static Choice mma(String why) {
            return new Choice(MMA_SYNC, MMA_SYNC.label + " layout (" + why + ")", null, null, null);
        }
    }

    /**
     * The call's facts the choice reads: dtype, head dims, split-KV factor, the keys a row may see (the window, else
     * the longest key sequence), and q, k, v as TMA rows (null where the dense batches do not follow each other,
     * with {@code notRows} saying why).
     */
    record Call(DType dtype, int dk, int dv, int splits, long keysPerRow, TensorMaps.Rows q, TensorMaps.Rows k,
                TensorMaps.Rows v, String notRows) {
    }

    /** The Hopper layout where every rule holds, else mma.sync with the first rule that fails. Host-only. */
    static Choice choose(DeviceInfo device, Fa2Options options, Call c) {
        if (!options.hopper()) {
            return Choice.mma("NSA_USE_WGMMA=0");
        }
        if (device.ccMajor() != 9 || device.ccMinor() != 0) {
            return Choice.mma("SM " + device.ccMajor() + "." + device.ccMinor() + ", the Hopper layout is SM 9.0");
        }
        if (c.dk() != HOPPER_DIM || c.dv() != HOPPER_DIM) {
            return Choice.mma("Dk/Dv " + c.dk() + "/" + c.dv() + ", the Hopper layout is " + HOPPER_DIM + "/" + HOPPER_DIM);
        }
        if (c.dtype() != DType.BF16 && c.dtype() != DType.FP16) {
            return Choice.mma(c.dtype() + " inputs");
        }
        if (c.keysPerRow() < options.hopperMinKeys()) {
            return Choice.mma("keys " + c.keysPerRow() + " < NSA_FA2_HOPPER_MIN_KEYS = " + options.hopperMinKeys());
        }
        if (c.splits() > 1) {
            return Choice.mma("split-KV, " + c.splits() + " splits");
        }
        if (c.notRows() != null) {
            return Choice.mma(c.notRows());
        }
        for (TensorMaps.Rows r : List.of(c.q(), c.k(), c.v())) {
            List<String> p = r.problems();
            if (!p.isEmpty()) {
                return Choice.mma("no tensor map: " + p.getFirst());
            }
        }
        return new Choice(HOPPER, HOPPER.label + " layout (SM 9.0; keys " + c.keysPerRow() + " >= "
                + options.hopperMinKeys() + ")", c.q(), c.k(), c.v());
    }
}
