package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.nsa4j.kernels.Mask;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchMarkdownTest {
    static final AttentionShape A = new AttentionShape("bf16", 1, 16, 4, 4096, 4096, 64, 64, Mask.CAUSAL);
    static final AttentionShape B = new AttentionShape("fp16", 2, 8, 8, 1000, 900, 128, 96, MaskText.checkedWindow(256));

    static AttentionBenchRow row(String system, String path, String gpu, AttentionShape s, double ms) {
        return AttentionBenchRow.measured(system, path, gpu, s, new double[] {ms}, "");
    }

    @Test
    void speedupsAreAgainstTheBaselineOfTheSameShape() {
        String gpu = "H100";
        String md = BenchMarkdown.table(List.of(
                row("nsa4j", "sdpa-masked", gpu, A, 2.5),
                row("nsa4j", "sdpa-masked", gpu, B, 8),
                row("torch", "flash", gpu, A, 0.5),
                row("nsa4j", "fa2", gpu, A, 1.25),
                row("torch", "flash", gpu, B, 2),
                row("torch", "cudnn", gpu, new AttentionShape("bf16", 1, 1, 1, 64, 64, 32, 32, Mask.NONE), 0.01)),
                "sdpa-masked");
        long flopsA = A.flops();
        assertEquals("""
                | shape | path | median ms | TFLOP/s | speedup vs sdpa-masked |
                |---|---|--:|--:|--:|
                | B=1 H=16/4 S=4096 D=64 bf16 causal | nsa4j sdpa-masked | 2.5 | %s | 1.00x |
                |  | torch flash | 0.5 | %s | 5.00x |
                |  | nsa4j fa2 | 1.25 | %s | 2.00x |
                | B=2 H=8 Sq=1000 Sk=900 Dk=128 Dv=96 fp16 window w=256 | nsa4j sdpa-masked | 8 | %s | 1.00x |
                |  | torch flash | 2 | %s | 4.00x |
                | B=1 H=1 S=64 D=32 bf16 none | torch cudnn | 0.01 | 0.05243 | n/a |
                """.formatted(sig(flopsA / 2.5e9), sig(flopsA / 0.5e9), sig(flopsA / 1.25e9), sig(B.flops() / 8e9),
                sig(B.flops() / 2e9)), md);
    }

    @Test
    void theGpuLeadsTheShapeWhenRowsSpanSeveralAndGroupsApart() {
        String md = BenchMarkdown.table(List.of(row("torch", "flash", "A100", A, 1), row("torch", "flash", "H100", A, 0.5),
                row("nsa4j", "sdpa", "H100", A, 2)), "sdpa");
        List<String> lines = md.lines().toList();
        assertEquals(5, lines.size());
        assertEquals(true, lines.get(2).startsWith("| A100: B=1 H=16/4 S=4096 D=64 bf16 causal | torch flash | 1 |"));
        assertEquals(true, lines.get(2).endsWith("| n/a |"));
        assertEquals(true, lines.get(3).startsWith("| H100: B=1"));
        assertEquals(true, lines.get(3).endsWith("| 4.00x |"));
        assertEquals(true, lines.get(4).endsWith("| 1.00x |"));
    }

    static String sig(double v) {
        return new java.math.BigDecimal(AttentionBenchRow.round(v)).round(new java.math.MathContext(4))
                .stripTrailingZeros().toPlainString();
    }
}
