package dev.nsa4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NsaBenchMarkdownTest {
    static final String GPU = "NVIDIA H200";
    static final NsaBenchShape S4K = new NsaBenchShape(4, 4096, NsaBenchCsvTest.FLA);
    static final NsaBenchShape S16K = new NsaBenchShape(1, 16384, NsaBenchCsvTest.FLA);

    static NsaBenchRow row(String system, String variant, String step, NsaBenchShape s, double ms) {
        return new NsaBenchRow(system, variant, step, GPU, s, ms, ms, ms, 1, "");
    }

    /** A full 4k section (out of report order on purpose) and a 16k one with peers only. */
    static List<NsaBenchRow> rows() {
        List<NsaBenchRow> r = new ArrayList<>();
        r.add(row("fla", "parallel_nsa", "forward", S4K, 8));
        r.add(row("nsa4j", "device", "sel", S4K, 5));
        r.add(row("nsa4j", "device", "forward", S4K, 10));
        r.add(row("torch", "cudnn-causal", "forward", S4K, 2));
        r.add(row("nsa4j", "device", "compress", S4K, 0.5));
        r.add(row("nsa4j", "device", "cmp", S4K, 1));
        r.add(row("nsa4j", "device", "select", S4K, 2));
        r.add(row("nsa4j", "device", "win", S4K, 1));
        r.add(row("nsa4j", "device", "combine", S4K, 0.3));
        r.add(row("nsa4j", "device", "enqueue", S4K, 0.25));
        r.add(row("nsa4j", "graph", "forward", S4K, 9.5));
        r.add(row("nsa4j", "host", "forward", S4K, 450));
        r.add(row("nsa4j", "host", "transfers", S4K, 400));
        r.add(new NsaBenchRow("nsa4j", "fa2-dense", "forward", GPU, S4K, 5, 4.9, 5.25, 20, ""));
        r.add(row("torch", "flash-causal", "forward", S4K, 4));
        r.add(row("fla", "parallel_nsa", "forward", S16K, 12));
        r.add(row("torch", "flash-causal", "forward", S16K, 13));
        r.add(row("fla", "parallel_nsa", "forward", S16K, 10));
        return r;
    }

    @Test
    void sectionHasSystemsRatiosStepSharesAndTheDominantStep() {
        String md = NsaBenchMarkdown.report(rows());
        String first = md.substring(md.indexOf("## bf16 B=4"), md.indexOf("## bf16 B=1"));
        assertEquals("""
                ## bf16 B=4 S=4096 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=64/64/64/16/512

                | system | variant | forward median ms | p10 / p90 ms | nsa4j device / this |
                |---|---|--:|--:|--:|
                | nsa4j | device | 10 | 10 / 10 | 1.00x |
                | nsa4j | graph | 9.5 | 9.5 / 9.5 | 1.05x |
                | nsa4j | host | 450 | 450 / 450 | 0.02x |
                | nsa4j | fa2-dense | 5 | 4.9 / 5.25 | 2.00x |
                | fla | parallel_nsa | 8 | 8 / 8 | 1.25x |
                | torch | flash-causal | 4 | 4 / 4 | 2.50x |
                | torch | cudnn-causal | 2 | 2 / 2 | 5.00x |

                | nsa4j device step | median ms | share of device forward |
                |---|--:|--:|
                | compress | 0.5 | 5.0% |
                | cmp | 1 | 10.0% |
                | select | 2 | 20.0% |
                | **sel** (dominant) | **5** | **50.0%** |
                | win | 1 | 10.0% |
                | combine | 0.3 | 3.0% |

                Steps sum to 9.8 ms (98.0% of the device forward); outside kernels: 2.0%.

                Host enqueue of one device forward: 0.25 ms (2.5% of the device forward).
                Host variant: transfers (upload + download) 400 ms of 450 ms (88.9% of the host forward).

                """, first);
        assertTrue(md.startsWith("Medians of timed runs, ms"), md);
        assertTrue(md.contains("\"nsa4j device / this\": the nsa4j device forward's median over this row's"), md);
        assertTrue(md.contains("\nGPU: NVIDIA H200\n"), md);
    }

    @Test
    void sectionWithoutNsa4jHasNoRatiosAndTheLastOfARepeatedRowCounts() {
        String md = NsaBenchMarkdown.report(rows());
        String second = md.substring(md.indexOf("## bf16 B=1"));
        assertEquals("""
                ## bf16 B=1 S=16384 Hq/Hkv=64/4 Dk/Dv=128/128 l/d/l'/n/w=64/64/64/16/512

                | system | variant | forward median ms | p10 / p90 ms | nsa4j device / this |
                |---|---|--:|--:|--:|
                | fla | parallel_nsa | 10 | 10 / 10 | n/a |
                | torch | flash-causal | 13 | 13 / 13 | n/a |

                (1 earlier row of the same system, variant and step superseded by later ones.)
                """, second);
    }

    @Test
    void missingStepsAreNamedAndAForwardShorterThanItsStepsIsTheOverlap() {
        NsaBenchShape s = new NsaBenchShape(1, 65536, NsaBenchCsvTest.PAPER);
        String md = NsaBenchMarkdown.report(List.of(row("nsa4j", "device", "forward", s, 4),
                row("nsa4j", "device", "win", s, 3), row("nsa4j", "device", "sel", s, 2)));
        assertTrue(md.contains("| sel | 2 | 50.0% |\n| **win** (dominant) | **3** | **75.0%** |\n"), md);
        assertTrue(md.contains("Steps sum to 5 ms (125.0% of the device forward); the forward is 1 ms shorter: its window "
                + "branch overlaps the other steps (side stream) (steps not measured: compress, cmp, select, combine).\n"), md);
        assertFalse(md.contains("Host"), md);

        String noForward = NsaBenchMarkdown.report(List.of(row("nsa4j", "device", "cmp", s, 1.5),
                row("nsa4j", "host", "transfers", s, 7)));
        assertTrue(noForward.contains("No forward rows.\n"), noForward);
        assertTrue(noForward.contains("| **cmp** (dominant) | **1.5** | **n/a** |"), noForward);
        assertTrue(noForward.contains("Steps sum to 1.5 ms; no device forward row, so no shares"), noForward);
        assertTrue(noForward.contains("Host variant: transfers (upload + download) 7 ms.\n"), noForward);
    }

    @Test
    void severalGpusLeadTheHeadings() {
        NsaBenchRow h100 = new NsaBenchRow("fla", "parallel_nsa", "forward", "NVIDIA H100", S4K, 9, 9, 9, 1, "");
        String md = NsaBenchMarkdown.report(List.of(row("fla", "parallel_nsa", "forward", S4K, 8), h100));
        assertTrue(md.contains("## NVIDIA H200: bf16 B=4 S=4096"), md);
        assertTrue(md.contains("## NVIDIA H100: bf16 B=4 S=4096"), md);
        assertFalse(md.contains("\nGPU: "), md);
        assertEquals(2, md.split("\n## ", -1).length - 1, md);
    }
}
