package dev.nsa4j.bench;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Reads one NSA call from a directory of .npy files written by NumPy or PyTorch ({@code np.save}):
 * <pre>
 *   q.npy                  float32 [B,S,H,Dk]   ([nnz,H,Dk] with cu_seqlens.npy)
 *   k_cmp.npy, v_cmp.npy   float32 [B,S,G,Dk], [B,S,G,Dv]
 *   k_sel.npy, v_sel.npy   float32, same shapes
 *   k_win.npy, v_win.npy   float32, same shapes
 *   gates.npy              float32 [B,S,H,3]   order (cmp, sel, win), each in [0,1]
 *   indices.npy            int32 [B,S,G,n]      optional: the chosen blocks, -1 padded
 *   cu_seqlens.npy         int32 [B+1]          optional: varlen batch
 * </pre>
 * H and Dk come from q, G from k_cmp, Dv from v_cmp; every other shape is then checked by the oracle
 * with an error naming the tensor, expected and actual shape.
 *
 * @param inputs the call, q/k/v converted to the compute dtype (gates stay float32)
 * @param heads  H
 * @param groups G
 * @param dk     Dk
 * @param dv     Dv
 */
record InputFiles(NsaInputs inputs, int heads, int groups, int dk, int dv) {
    static final List<String> REQUIRED = List.of("q", "k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win", "gates");

    /**
     * @throws NsaArgumentException naming the file or tensor for a missing file, a wrong dtype or rank
     */
    static InputFiles load(Path dir, DType compute) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NsaArgumentException(dir.toString(), "--inputs is a directory",
                    Files.exists(dir) ? "not a directory" : "no such directory");
        }
        HostTensor cu = optional(dir, "cu_seqlens");
        boolean varlen = cu != null;
        HostTensor[] t = new HostTensor[REQUIRED.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = Npy.read(dir.resolve(REQUIRED.get(i) + ".npy"), DType.FP32);
        }
        int rank = varlen ? 3 : 4;
        String layout = varlen ? "[nnz,%s,%s] (cu_seqlens.npy is present)" : "[B,S,%s,%s]";
        requireRank("q", t[0], rank, layout.formatted("H", "Dk"));
        requireRank("k_cmp", t[1], rank, layout.formatted("G", "Dk"));
        requireRank("v_cmp", t[2], rank, layout.formatted("G", "Dv"));
        HostTensor indices = optional(dir, "indices");
        int heads = t[0].dim(rank - 2);
        int dk = t[0].dim(rank - 1);
        int groups = t[1].dim(rank - 2);
        int dv = t[2].dim(rank - 1);
        NsaInputs in = NsaInputs.builder().q(cast(t[0], compute))
                .cmp(cast(t[1], compute), cast(t[2], compute))
                .sel(cast(t[3], compute), cast(t[4], compute))
                .win(cast(t[5], compute), cast(t[6], compute))
                .gates(t[7]).cuSeqlens(cu).indices(indices).build();
        return new InputFiles(in, heads, groups, dk, dv);
    }

    private static HostTensor optional(Path dir, String name) throws IOException {
        Path p = dir.resolve(name + ".npy");
        return Files.exists(p) ? Npy.read(p, DType.INT32) : null;
    }

    private static HostTensor cast(HostTensor t, DType compute) {
        return t.dtype() == compute ? t : t.to(compute);
    }

    private static void requireRank(String name, HostTensor t, int rank, String layout) {
        if (t.rank() != rank) {
            throw new NsaArgumentException(name, "shape " + layout,
                    name + ".npy is " + rank(t) + " " + t.shape() + ", expected " + rank + "-D " + layout);
        }
    }

    private static String rank(HostTensor t) {
        return t.rank() + "-D";
    }
}
