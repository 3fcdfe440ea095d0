package dev.nsa4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

import dev.nsa4j.attention.NsaInputs;
import dev.nsa4j.config.NsaConfig;
import dev.nsa4j.kernels.CudaEvent;
import dev.nsa4j.kernels.CudaStream;
import dev.nsa4j.kernels.DeviceBuffer;
import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.nsa.NsaDeviceInputs;
import dev.nsa4j.nsa.NsaGpuDecoder;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.HostTensor;
import dev.nsa4j.tensor.Shape;

/**
 * The k steps of {@code nsa decode} on the GPU, from device-resident tokens: every step's eight inputs (q, k_c/v_c
 * per branch, gates) packed into one device pool ({@code [k][8 tensors]}, each tensor padded to 256 bytes), uploaded
 * before the first step, and every step's fp32 output o written into an output pool {@code [k,B,1,H,Dv]}, downloaded
 * after the last. Eager: {@link NsaGpuDecoder#step(CudaStream, NsaDeviceInputs, DeviceTensor)} on views of the
 * pools. Graph: the step captured once on a slot of one step's inputs and an o slot; per step one device copy of the
 * step's pack into the slot, the replay, one copy of o out (the copies are part of the timed step). Timing: a CUDA
 * event before each step and one after the last (per-step times, launch gaps included), and the wall clock of all
 * steps with one synchronisation at the end.
 */
final class GpuDecodeSteps {
    private static final long ALIGN = 256;

    /** Per-step times (ms, events), wall time of all steps (ms) and the outputs {@code [k,B,1,H,Dv]} fp32. */
    record Result(double[] stepMs, double wallMs, HostTensor o) {
    }

    private GpuDecodeSteps() {}

    static Result run(NsaGpuDecoder dec, CudaStream stream, NsaConfig cfg, DType dt, DecodeInputs in, int prefill,
                      int steps, boolean graph) {
        int b = in.batch(), h = cfg.heads(), g = cfg.kvGroups();
        int[][] dims = {{b, 1, h, cfg.headDimQk()}, {b, 1, g, cfg.headDimQk()}, {b, 1, g, cfg.headDimV()},
            {b, 1, g, cfg.headDimQk()}, {b, 1, g, cfg.headDimV()}, {b, 1, g, cfg.headDimQk()},
            {b, 1, g, cfg.headDimV()}, {b, 1, h, 3}};
        long[] off = new long[dims.length + 1];
        for (int i = 0; i < dims.length; i++) {
            DType d = i == dims.length - 1 ? DType.FP32 : dt;
            off[i + 1] = off[i] + align(Shape.of(dims[i]).numel() * d.byteSize());
        }
        long stepBytes = off[dims.length];
        MemorySegment pack = Arena.ofAuto().allocate(stepBytes * steps, ALIGN);
        for (int j = 0; j < steps; j++) {
            NsaInputs t = in.token(prefill + j);
            HostTensor[] parts = {t.q(), t.kCmp(), t.vCmp(), t.kSel(), t.vSel(), t.kWin(), t.vWin(), t.gates()};
            for (int i = 0; i < parts.length; i++) {
                HostTensor c = parts[i].to(i == parts.length - 1 ? DType.FP32 : dt);   // contiguous copy
                long n = c.numel() * c.dtype().byteSize();
                MemorySegment.copy(c.segment(), 0, pack, j * stepBytes + off[i], n);
            }
        }
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            DeviceBuffer pool = own(owned, DeviceBuffer.allocate(stream, stepBytes * steps));
            DeviceTensor.wrap(pool.address(), DType.FP32, Shape.of(Math.toIntExact(stepBytes * steps / 4)))
                    .copyFrom(stream, HostTensor.wrap(pack, DType.FP32, Shape.of(Math.toIntExact(stepBytes * steps / 4))));
            DeviceTensor outs = own(owned, DeviceTensor.allocate(stream, DType.FP32, steps, b, 1, h, cfg.headDimV()));
            long oBytes = (long) b * h * cfg.headDimV() * 4;
            CudaEvent[] ev = new CudaEvent[steps + 1];
            for (int j = 0; j <= steps; j++) {
                ev[j] = own(owned, CudaEvent.create(stream.context()));
            }
            NsaGpuDecoder.StepGraph sg = null;
            DeviceTensor slot = null, oSlot = null;
            if (graph) {
                DeviceBuffer s = own(owned, DeviceBuffer.allocate(stream, stepBytes));
                slot = DeviceTensor.wrap(s.address(), DType.FP32, Shape.of(Math.toIntExact(stepBytes / 4)));
                oSlot = own(owned, DeviceTensor.allocate(stream, DType.FP32, b, 1, h, cfg.headDimV()));
                sg = own(owned, dec.capture(stream, inputs(s.address(), off, dims, dt), oSlot));
            }
            stream.synchronize();
            long t0 = System.nanoTime();
            for (int j = 0; j < steps; j++) {
                ev[j].record(stream);
                DeviceTensor oj = DeviceTensor.wrap(outs.address() + j * oBytes, DType.FP32,
                        Shape.of(b, 1, h, cfg.headDimV()));
                if (graph) {
                    slot.copyFrom(stream, DeviceTensor.wrap(pool.address() + j * stepBytes, DType.FP32, slot.shape()));
                    sg.replay(stream);
                    oj.copyFrom(stream, oSlot);
                } else {
                    dec.step(stream, inputs(pool.address() + j * stepBytes, off, dims, dt), oj);
                }
            }
            ev[steps].record(stream);
            stream.synchronize();
            double wall = (System.nanoTime() - t0) / 1e6;
            double[] ms = new double[steps];
            for (int j = 0; j < steps; j++) {
                ms[j] = CudaEvent.elapsedMillis(ev[j], ev[j + 1]);
            }
            return new Result(ms, wall, outs.toHost(stream));
        } finally {
            stream.synchronize();
            Closeables.closeAllQuietly(owned);
        }
    }

    /** One step's inputs as views of a pack at {@code base}. */
    private static NsaDeviceInputs inputs(long base, long[] off, int[][] dims, DType dt) {
        DeviceTensor[] t = new DeviceTensor[dims.length];
        for (int i = 0; i < dims.length; i++) {
            t[i] = DeviceTensor.wrap(base + off[i], i == dims.length - 1 ? DType.FP32 : dt, Shape.of(dims[i]));
        }
        return NsaDeviceInputs.builder().q(t[0]).cmp(t[1], t[2]).sel(t[3], t[4]).win(t[5], t[6]).gates(t[7]).build();
    }

    private static <T extends AutoCloseable> T own(List<AutoCloseable> owned, T t) {
        owned.add(t);
        return t;
    }

    private static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }
}
