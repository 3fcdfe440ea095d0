package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.opentest4j.TestAbortedException;

/** {@link GpuSuite#shard}: NSA_TEST_SHARD / nsa.test.shard splitting of parameter matrices (CPU only). */
class GpuSuiteShardTest {
    static final List<Integer> CASES = IntStream.range(0, 10).boxed().toList();

    @AfterEach
    void clear() {
        System.clearProperty("nsa.test.shard");
    }

    @Test
    void shardsPartitionTheMatrix() {
        List<Integer> seen = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            System.setProperty("nsa.test.shard", i + "/4");
            List<Integer> mine = GpuSuite.shard(CASES).toList();
            mine.forEach(c -> assertEquals(0, (c - mine.getFirst()) % 4, "every 4th case"));
            seen.addAll(mine);
        }
        assertEquals(CASES, seen.stream().sorted().toList());
    }

    @Test
    void withoutAShardEveryCaseRuns() {
        assertEquals(CASES, GpuSuite.shard(CASES).toList());
    }

    @Test
    void aShardWithNoCaseAbortsInsteadOfFailing() {
        System.setProperty("nsa.test.shard", "13/24");
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> GpuSuite.shard(CASES));
        assertTrue(e.getMessage().contains("13/24"), e.getMessage());
    }

    @Test
    void malformedShardsNameTheSetting() {
        for (String bad : new String[]{"3", "a/4", "4/4", "-1/4", "1/0"}) {
            System.setProperty("nsa.test.shard", bad);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuSuite.shard(CASES), bad);
            assertTrue(e.getMessage().contains("NSA_TEST_SHARD"), e.getMessage());
        }
    }
}
