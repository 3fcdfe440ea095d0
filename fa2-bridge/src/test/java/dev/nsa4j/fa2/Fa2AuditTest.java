package dev.nsa4j.fa2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import org.junit.jupiter.api.Test;

import dev.nsa4j.fa2.Fa2Audit.Image;
import dev.nsa4j.fa2.Fa2Audit.Probe;
import dev.nsa4j.fa2.Fa2Audit.ProbeCase;
import dev.nsa4j.fa2.Fa2Audit.Report;
import dev.nsa4j.fa2.Fa2Audit.Status;
import dev.nsa4j.fa2.Fa2Audit.Versions;
import dev.nsa4j.fa2.contract.Fa2Options;
import dev.nsa4j.fa2.contract.Fa2Rule;
import dev.nsa4j.fa2.contract.Fa2Verdict;
import dev.nsa4j.kernels.CudaDevices;
import dev.nsa4j.kernels.DeviceInfo;
import dev.nsa4j.tensor.DType;

/** The FA-2 audit without a GPU: probe planning for described devices, the report's formatting, no-GPU runs. */
class Fa2AuditTest {
    static final DeviceInfo H100 = new DeviceInfo(0, "NVIDIA H100 80GB HBM3", 9, 0, 132, 80L << 30);
    static final DeviceInfo A100 = new DeviceInfo(1, "NVIDIA A100-SXM4-80GB", 8, 0, 108, 80L << 30);
    static final DeviceInfo RTX4090 = new DeviceInfo(0, "NVIDIA GeForce RTX 4090", 8, 9, 128, 24L << 30);
    static final DeviceInfo T4 = new DeviceInfo(0, "Tesla T4", 7, 5, 40, 16L << 30);
    static final Fa2Options D_GT_128 = new Fa2Options(false, true, true, false, false);
    static final Fa2Options FORCE_SM89 = new Fa2Options(false, true, false, false, true);
    static final Versions VERSIONS = new Versions(13000, "580.65.06", "12.6.0", "0.1.0-SNAPSHOT",
            "25.0.3+9-LTS (Eclipse Adoptium)");

    @Test
    void probesEveryEqualCompiledPairInBothHalfDtypes() {
        assertEquals(List.of(32, 64, 96, 128, 192, 256), Fa2Audit.HEAD_DIMS);
        List<ProbeCase> cases = Fa2Audit.cases();
        assertEquals(12, cases.size());
        assertEquals(new ProbeCase(32, DType.FP16), cases.getFirst());
        assertEquals(new ProbeCase(256, DType.BF16), cases.getLast());
        assertEquals("bf16 d128", cases.get(9).label());
    }

    @Test
    void onSm90EveryProbeIsAllowed() {
        Map<ProbeCase, Fa2Verdict> v = Fa2Audit.verdicts(H100, Fa2Options.defaults());
        assertEquals(Fa2Audit.cases(), List.copyOf(v.keySet()));
        v.forEach((c, verdict) -> assertTrue(verdict.ok() && verdict.castTo().isEmpty(), c + ": " + verdict));
    }

    @Test
    void onSm8xHeadDimsAbove128NeedTheFlag() {
        Map<ProbeCase, Fa2Verdict> v = Fa2Audit.verdicts(A100, Fa2Options.defaults());
        v.forEach((c, verdict) -> {
            if (c.headDim() <= 128) {
                assertTrue(verdict.ok(), c + ": " + verdict);
            } else {
                assertFalse(verdict.ok(), c.label());
                assertFalse(verdict.fatal(), c.label());
                assertTrue(verdict.broke(Fa2Rule.HEAD_DIM), verdict::reason);
                assertTrue(verdict.reason().contains("head_dim " + c.headDim() + " > 128")
                        && verdict.reason().contains("NSA_FA2_ALLOW_D_GT_128=1"), verdict::reason);
            }
        });
        assertEquals(8, v.values().stream().filter(Fa2Verdict::ok).count());
        assertTrue(Fa2Audit.verdicts(A100, D_GT_128).values().stream().allMatch(Fa2Verdict::ok));
    }

    @Test
    void sm89IsOffUnlessForcedAndOlderDevicesAreRefused() {
        Map<ProbeCase, Fa2Verdict> v = Fa2Audit.verdicts(RTX4090, Fa2Options.defaults());
        assertTrue(v.values().stream().allMatch(x -> x.broke(Fa2Rule.DEVICE) && x.reason().contains("NSA_FA2_FORCE=1")));
        assertEquals(8, Fa2Audit.verdicts(RTX4090, FORCE_SM89).values().stream().filter(Fa2Verdict::ok).count());
        assertTrue(Fa2Audit.verdicts(T4, D_GT_128).values().stream()
                .allMatch(x -> x.broke(Fa2Rule.DEVICE) && x.reason().contains("compute capability 7.5")));
    }

    @Test
    void withoutAGpuTheAuditSaysWhyAndThrowsNothing() {
        CudaDevices.Discovery d = CudaDevices.discover();
        assumeFalse(d.available(), "this machine has a CUDA device");
        Report r = Fa2Audit.run(0, Fa2Options.defaults(), "9.9.9");
        assertEquals(null, r.device());
        assertEquals(d.reason(), r.unavailable());
        assertTrue(r.probes().isEmpty());
        assertFalse(r.ready());
        assertEquals("FA-2 unavailable: " + d.reason(), r.verdict());
        assertEquals("12.6.0", r.versions().jcuda());
        assertEquals("9.9.9", r.versions().nsa4j());
        assertEquals(Set.of(80, 90), r.image().archs());
        assertFalse(r.image().runsHere());
        assertTrue(r.deviceKeyValues().startsWith("device=none driver="), r.deviceKeyValues());
        assertTrue(r.describe().contains("probes:       not run (" + d.reason() + ")"), () -> String.join("\n", r.describe()));
        // an ordinal that does not exist is a reason too, never an exception
        assertTrue(Fa2Audit.run(-1, Fa2Options.defaults(), "x").verdict().startsWith("FA-2 unavailable: "));
    }

    static Report report(DeviceInfo dev, Status... statuses) {
        List<ProbeCase> cases = Fa2Audit.cases();
        Probe[] probes = new Probe[cases.size()];
        for (int i = 0; i < probes.length; i++) {
            Status s = i < statuses.length ? statuses[i] : Status.PASSED;
            probes[i] = switch (s) {
                case PASSED -> new Probe(cases.get(i), s, "", 1.25e-7);
                case BLOCKED -> new Probe(cases.get(i), s, "head_dim: k head_dim 192 > 128", Double.NaN);
                case FAILED -> new Probe(cases.get(i), s, "MAE 3.00e-04 > 1e-5", 3e-4);
                case SKIPPED -> new Probe(cases.get(i), s, Fa2Module.NOT_BUILT, Double.NaN);
            };
        }
        return new Report(dev, null, VERSIONS, new Image(true, 4_194_304, Set.of(90, 80), true), Fa2Options.defaults(),
                List.of(probes));
    }

    @Test
    void aReadyReportFormatsAsLogFieldsAndReadableLines() {
        Report r = report(H100);
        assertTrue(r.ready());
        assertEquals("FA-2 ready on cuda:0 (sm_90): 12/12 probes passed", r.verdict());
        assertEquals("device=cuda:0 name=\"NVIDIA H100 80GB HBM3\" sm=90 sms=132 mem_mib=81920 driver=580.65.06 "
                + "cuda=13.0 jcuda=12.6.0 nsa4j=0.1.0-SNAPSHOT java=\"25.0.3+9-LTS (Eclipse Adoptium)\" image=present "
                + "image_bytes=4194304 image_archs=\"sm_80, sm_90a\" image_runs=yes passed=12/12 "
                + "verdict=\"FA-2 ready on cuda:0 (sm_90): 12/12 probes passed\"", r.deviceKeyValues());
        assertEquals("probe=fp16/d32 status=passed mae=1.25e-07", r.probes().getFirst().keyValues());
        assertEquals(List.of(
                "device:       cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 81920 MiB)",
                "driver:       NVIDIA 580.65.06; CUDA 13.0 (cuDriverGetVersion 13000)",
                "JCuda:        12.6.0",
                "nsa4j:        0.1.0-SNAPSHOT",
                "Java:         25.0.3+9-LTS (Eclipse Adoptium)",
                "FA-2 image:   present, 4194304 bytes; SASS sm_80, sm_90a; runs on sm_90: yes",
                "FA-2 options: NSA_FA2_ALLOW_D_GT_128=0 NSA_FA2_FORCE=0",
                "probes:       dense causal B=1 S=17 H=2 Hkv=1, exact P, fp32 out, against sdpa (MAE <= 1e-5)",
                "  fp16 d32   passed   MAE 1.25e-07"), r.describe().subList(0, 9));
        assertEquals(8 + 12, r.describe().size());
        assertEquals("  bf16 d256  passed   MAE 1.25e-07", r.describe().getLast());
    }

    @Test
    void blockedFailedAndSkippedProbesSayWhy() {
        Report sm8 = report(A100, Status.PASSED, Status.PASSED, Status.PASSED, Status.PASSED, Status.BLOCKED,
                Status.BLOCKED);
        assertEquals("FA-2 ready on cuda:1 (sm_80): 10/12 probes passed; 2 blocked by the contract", sm8.verdict());
        assertEquals("probe=fp16/d192 status=blocked reason=\"head_dim: k head_dim 192 > 128\"",
                sm8.probes().get(4).keyValues());
        assertEquals("  fp16 d192  blocked  head_dim: k head_dim 192 > 128", sm8.describe().get(8 + 4));

        Report failing = report(H100, Status.PASSED, Status.FAILED);
        assertFalse(failing.ready());
        assertEquals("FA-2 failing on cuda:0 (sm_90): 11/12 probes passed, 1 failed (first: fp16 d64: MAE 3.00e-04 > 1e-5)",
                failing.verdict());
        assertEquals("probe=fp16/d64 status=failed mae=3.00e-04 reason=\"MAE 3.00e-04 > 1e-5\"",
                failing.probes().get(1).keyValues());
        assertEquals("  fp16 d64   failed   MAE 3.00e-04 > 1e-5", failing.describe().get(8 + 1));

        Status[] all = new Status[12];
        java.util.Arrays.fill(all, Status.BLOCKED);
        assertEquals("FA-2 unavailable: every probe is blocked on cuda:0 (sm_90): head_dim: k head_dim 192 > 128",
                report(H100, all).verdict());

        java.util.Arrays.fill(all, Status.SKIPPED);
        Report skipped = report(H100, all);
        Report notBuilt = new Report(skipped.device(), Fa2Module.NOT_BUILT, VERSIONS,
                new Image(false, 0, Set.of(80, 90), true), Fa2Options.defaults(), skipped.probes());
        assertEquals("FA-2 unavailable: " + Fa2Module.NOT_BUILT, notBuilt.verdict());
        assertTrue(notBuilt.deviceKeyValues().contains(" image=absent image_bytes=0 "), notBuilt.deviceKeyValues());
        assertEquals("FA-2 image:   absent (FA-2 kernels not built: the jar has no /dev/nsa4j/fa2/nsa4j-fa2.fatbin); "
                + "a built image carries SASS sm_80, sm_90a; runs on sm_90: yes", notBuilt.describe().get(5));
    }

    @Test
    void aProbePassesOnlyWithFiniteOutputsWithinTheMaeLimit() {
        ProbeCase c = new ProbeCase(64, DType.BF16);
        Probe same = Fa2Audit.compare(c, new double[]{1, 2, 3}, new double[]{1, 2, 3});
        assertEquals(Status.PASSED, same.status());
        assertEquals(0.0, same.mae());
        Probe close = Fa2Audit.compare(c, new double[]{1, 2}, new double[]{1 + 0.5e-5, 2 + 0.5e-5});
        assertEquals(Status.PASSED, close.status(), close::reason);
        Probe far = Fa2Audit.compare(c, new double[]{1, 2}, new double[]{1 + 4e-5, 2});
        assertEquals(Status.FAILED, far.status());
        assertEquals("MAE 2.00e-05 > 1e-5", far.reason());
        Probe nan = Fa2Audit.compare(c, new double[]{Double.NaN, 2, Double.POSITIVE_INFINITY}, new double[]{1, 2, 3});
        assertEquals(Status.FAILED, nan.status());
        assertEquals("2 of 3 FA-2 outputs are NaN/Inf", nan.reason());
    }

    @Test
    void theNvidiaDriverReleaseIsReadFromProc() {
        assertEquals(Optional.of("580.65.06"), Fa2Audit.parseNvidiaRelease(
                "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 06:54:38 UTC 2025\n"
                        + "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"));
        assertEquals(Optional.of("575.57.08"), Fa2Audit.parseNvidiaRelease(
                "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  575.57.08  Release Build  (dvs-builder@U16)\n"));
        assertEquals(Optional.empty(), Fa2Audit.parseNvidiaRelease("no driver here"));
    }

    @Test
    void imageArchsReadAsSassNames() {
        assertEquals("sm_80, sm_90a", new Image(true, 1, Set.of(90, 80), true).archText());
    }
}
