package dev.nsa4j.nsa;

import java.util.Arrays;

import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;

/**
 * Checks a device forward's tensors against the config before anything is enqueued (shapes, dtypes, strides,
 * pointer alignment; an {@link NsaArgumentException} naming the tensor and the rule) and gives the varlen
 * views {@code [nnz, heads, dim]} the ops take. Device values (gates, indices) are not read.
 */
final class DeviceInputCheck {
    private DeviceInputCheck() {
    }

    /** The checked call: its shape class and every tensor viewed as {@code [nnz, ...]} (null where absent). */
    record Call(NsaShape shape, DeviceTensor q, DeviceTensor kCmp, DeviceTensor vCmp, DeviceTensor kSel,
                DeviceTensor vSel, DeviceTensor kWin, DeviceTensor vWin, DeviceTensor gates, DeviceTensor indices,
                DeviceTensor o, DeviceTensor oCmp, DeviceTensor oSel, DeviceTensor oWin, DeviceTensor lseCmp,
                DeviceTensor lseSel, DeviceTensor lseWin, DeviceTensor indicesOut) {
    }

    static Call check(NsaConfig cfg, NsaDeviceInputs in, NsaDeviceOutputs out) {
        DeviceTensor q = in.q();
        DType dt = q.dtype();
        if (!dt.isFloating()) {
            throw new NsaArgumentException("q", "dtype fp32, fp16 or bf16", "q is " + dt);
        }
        int[] cu;
        boolean varlen = in.isVarlen();
        if (varlen) {
            cu = in.cuSeqlens();
            checkCu(cu);
            rank("q", q, 3, "[nnz,H,Dk]");
            if (q.dim(0) != cu[cu.length - 1]) {
                throw new NsaArgumentException("q", "q [nnz,H,Dk] with nnz = cu_seqlens[B]",
                        "q has " + q.dim(0) + " tokens, cu_seqlens[B] = " + cu[cu.length - 1]);
            }
        } else {
            rank("q", q, 4, "[B,S,H,Dk]");
            cu = NsaShape.dense(q.dim(0), q.dim(1), dt, dt, dt, false).cu();
        }
        int batch = cu.length - 1;
        int seq = varlen ? -1 : q.dim(1);
        int nnz = cu[cu.length - 1];
        int h = cfg.heads(), g = cfg.kvGroups(), dk = cfg.headDimQk(), dv = cfg.headDimV(), n = cfg.nSel();
        DeviceTensor qv = view("q", q, varlen, batch, seq, nnz, h, dk, dt);
        String[] names = {"k_cmp", "v_cmp", "k_sel", "v_sel", "k_win", "v_win"};
        DeviceTensor[] kv = {in.kCmp(), in.vCmp(), in.kSel(), in.vSel(), in.kWin(), in.vWin()};
        DeviceTensor[] kvv = new DeviceTensor[6];
        for (int i = 0; i < 6; i++) {
            kvv[i] = view(names[i], kv[i], varlen, batch, seq, nnz, g, i % 2 == 0 ? dk : dv, dt);
        }
        DeviceTensor gates = in.gates();
        if (gates.dtype() != dt && gates.dtype() != DType.FP32) {
            throw new NsaArgumentException("gates", "dtype matches q or is fp32", "gates is " + gates.dtype()
                    + " but q is " + dt);
        }
        DeviceTensor gv = view("gates", gates, varlen, batch, seq, nnz, h, 3, gates.dtype());
        DeviceTensor iv = in.indices() == null ? null
                : contiguous("indices", view("indices", in.indices(), varlen, batch, seq, nnz, g, n, DType.INT32));
        DeviceTensor o = out.o();
        if (o.dtype() != dt && o.dtype() != DType.FP32) {
            throw new NsaArgumentException("o", "dtype matches q or is fp32", "o is " + o.dtype() + " but q is " + dt);
        }
        DeviceTensor ov = view("o", o, varlen, batch, seq, nnz, h, dv, o.dtype());
        if (o.dtype() != DType.FP32) {
            contiguous("o", ov);
        }
        NsaShape shape = new NsaShape(cu, varlen, dt, gates.dtype(), o.dtype(), iv != null);
        return new Call(shape, qv, kvv[0], kvv[1], kvv[2], kvv[3], kvv[4], kvv[5], gv, iv, ov,
                optional("o_cmp", out.oCmp(), varlen, batch, seq, nnz, h, dv, branch(out.oCmp(), o.dtype())),
                optional("o_sel", out.oSel(), varlen, batch, seq, nnz, h, dv, branch(out.oSel(), o.dtype())),
                optional("o_win", out.oWin(), varlen, batch, seq, nnz, h, dv, branch(out.oWin(), o.dtype())),
                optionalLse("lse_cmp", out.lseCmp(), varlen, batch, seq, nnz, h),
                optionalLse("lse_sel", out.lseSel(), varlen, batch, seq, nnz, h),
                optionalLse("lse_win", out.lseWin(), varlen, batch, seq, nnz, h),
                optional("indices (out)", out.indices(), varlen, batch, seq, nnz, g, n, DType.INT32));
    }

    private static void checkCu(int[] cu) {
        if (cu.length < 1 || cu[0] != 0) {
            throw new NsaArgumentException("cu_seqlens", "length B+1 >= 1 and cu[0] = 0",
                    "cu_seqlens = " + Arrays.toString(Arrays.copyOf(cu, Math.min(cu.length, 8))));
        }
        for (int b = 0; b + 1 < cu.length; b++) {
            if (cu[b + 1] < cu[b]) {
                throw new NsaArgumentException("cu_seqlens", "non-decreasing",
                        "cu[" + (b + 1) + "] = " + cu[b + 1] + " < cu[" + b + "] = " + cu[b]);
            }
        }
    }

    private static void rank(String name, DeviceTensor t, int r, String dims) {
        if (t == null) {
            throw new NsaArgumentException(name, "tensor present", name + " is null");
        }
        if (t.rank() != r) {
            throw new NsaArgumentException(name, "shape " + dims, name + " is " + t.shape() + " (rank " + t.rank() + ")");
        }
    }

    /** Checks dims, dtype, strides and alignment of a token tensor; returns its {@code [nnz, heads, dim]} view. */
    private static DeviceTensor view(String name, DeviceTensor t, boolean varlen, int batch, int seq, int nnz,
                                     int heads, int dim, DType dtype) {
        String dims = varlen ? "[nnz," + heads + "," + dim + "]" : "[" + batch + "," + seq + "," + heads + "," + dim + "]";
        rank(name, t, varlen ? 3 : 4, dims);
        int[] want = varlen ? new int[] {-1, heads, dim} : new int[] {batch, seq, heads, dim};
        for (int a = 0; a < want.length; a++) {
            if (want[a] >= 0 && t.dim(a) != want[a]) {
                throw new NsaArgumentException(name, "shape " + dims + " (from the config and q)",
                        name + " is " + t.shape());
            }
        }
        if (varlen && t.dim(0) != nnz) {
            throw new NsaArgumentException(name, "shape " + dims + " with nnz = cu_seqlens[B] = " + nnz,
                    name + " is " + t.shape());
        }
        if (t.dtype() != dtype) {
            throw new NsaArgumentException(name, "dtype " + dtype, name + " is " + t.dtype());
        }
        int last = t.rank() - 1;
        if (t.dim(last) > 1 && t.stride(last) != 1) {
            throw new NsaArgumentException(name, "last dimension contiguous (stride 1)", "strides "
                    + Arrays.toString(t.shape().strides()));
        }
        for (long s : t.shape().strides()) {
            if (s < 0) {
                throw new NsaArgumentException(name, "strides >= 0", "strides " + Arrays.toString(t.shape().strides()));
            }
        }
        DeviceTensor v = t;
        if (!varlen) {
            if (batch > 1 && seq > 0 && t.stride(0) != (long) seq * t.stride(1)) {
                throw new NsaArgumentException(name, "batch stride = S · token stride (dense tensors are viewed as [B·S, ...])",
                        "strides " + Arrays.toString(t.shape().strides()) + " with S = " + seq);
            }
            v = t.view(Shape.strided(new int[] {Math.multiplyExact(batch, seq), heads, dim},
                    new long[] {t.stride(1), t.stride(2), t.stride(3)}));
        }
        if (v.shape().numel() > 0) {
            if (t.address() == 0L) {
                throw new NsaArgumentException(name, "device pointer not null", name + " is a null device pointer");
            }
            if (t.address() % dtype.byteSize() != 0) {
                throw new NsaArgumentException(name, "pointer aligned to its element size (" + dtype.byteSize() + " bytes)",
                        "address 0x" + Long.toHexString(t.address()) + " is not a multiple of " + dtype.byteSize());
            }
        }
        return v;
    }

    private static DeviceTensor contiguous(String name, DeviceTensor v) {
        if (!v.shape().isContiguous()) {
            throw new NsaArgumentException(name, "contiguous", name + " is " + v.shape());
        }
        return v;
    }

    /**
     * The dtype a caller's branch output is checked against: fp32, or o's dtype when o is fp16 / bf16 and the
     * tensor has it (the plan then requires its own branch dtype, {@link DevicePipeline#checkCall}).
     */
    private static DType branch(DeviceTensor t, DType o) {
        return t != null && o != DType.FP32 && t.dtype() == o ? o : DType.FP32;
    }

    private static DeviceTensor optional(String name, DeviceTensor t, boolean varlen, int batch, int seq, int nnz,
                                         int heads, int dim, DType dtype) {
        return t == null ? null : contiguous(name, view(name, t, varlen, batch, seq, nnz, heads, dim, dtype));
    }

    private static DeviceTensor optionalLse(String name, DeviceTensor t, boolean varlen, int batch, int seq, int nnz,
                                            int heads) {
        if (t == null) {
            return null;
        }
        String dims = varlen ? "[nnz," + heads + "]" : "[" + batch + "," + seq + "," + heads + "]";
        rank(name, t, varlen ? 2 : 3, dims);
        if (t.dtype() != DType.FP32 || !t.shape().isContiguous()
                || t.dim(t.rank() - 1) != heads || (varlen ? t.dim(0) != nnz : t.dim(0) != batch || t.dim(1) != seq)) {
            throw new NsaArgumentException(name, "fp32 contiguous " + dims, name + " is " + t);
        }
        if (t.shape().numel() > 0 && (t.address() == 0L || t.address() % 4 != 0)) {
            throw new NsaArgumentException(name, "pointer aligned to 4 bytes", "address 0x" + Long.toHexString(t.address()));
        }
        int rows = varlen ? t.dim(0) : batch * seq;
        return t.view(Shape.of(rows, heads));
    }
}
