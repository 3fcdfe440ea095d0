package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.opentest4j.TestAbortedException;

/** {@link TestShard}: NSA_TEST_SHARD / nsa.test.shard splitting of the GPU suites (CPU only). */
class TestShardTest {
    static final List<Integer> CASES = IntStream.range(0, 10).boxed().toList();

    @AfterEach
    void clear() {
        System.clearProperty("nsa.test.shard");
        System.clearProperty("nsa.test.cover");
    }

    @Test
    void coverModeKeepsTheCoverCasesThenShards() {
        assertEquals(CASES, TestShard.cases(CASES, c -> c % 3 == 0).toList(), "without NSA_TEST_COVER every case");
        System.setProperty("nsa.test.cover", "1");
        assertEquals(List.of(0, 3, 6, 9), TestShard.cases(CASES, c -> c % 3 == 0).toList());
        System.setProperty("nsa.test.shard", "1/2");
        assertEquals(List.of(3, 9), TestShard.cases(CASES, c -> c % 3 == 0).toList());
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> TestShard.cases(CASES, c -> false));
        assertTrue(e.getMessage().contains("NSA_TEST_COVER=1"), e.getMessage());
    }

    @Test
    void shardsPartitionTheMatrix() {
        List<Integer> seen = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            System.setProperty("nsa.test.shard", i + "/4");
            List<Integer> mine = TestShard.cases(CASES).toList();
            mine.forEach(c -> assertEquals(0, (c - mine.getFirst()) % 4, "every 4th case"));
            seen.addAll(mine);
        }
        assertEquals(CASES, seen.stream().sorted().toList());
    }

    @Test
    void withoutAShardEveryCaseRuns() {
        assertEquals(CASES, TestShard.cases(CASES).toList());
    }

    @Test
    void aShardWithNoCaseAbortsInsteadOfFailing() {
        System.setProperty("nsa.test.shard", "13/24");
        TestAbortedException e = assertThrows(TestAbortedException.class, () -> TestShard.cases(CASES));
        assertTrue(e.getMessage().contains("13/24"), e.getMessage());
    }

    @Test
    void singleTestsRunInShardZeroOnly() throws NoSuchMethodException {
        Method single = TestShardTest.class.getDeclaredMethod("withoutAShardEveryCaseRuns");
        Method matrix = TestShardTest.class.getDeclaredMethod("matrixCase", int.class);
        assertFalse(TestShard.decide(Optional.of(single), null).isDisabled(), "no setting: everything runs");
        assertFalse(TestShard.decide(Optional.of(single), new TestShard.Setting(0, 4)).isDisabled());
        ConditionEvaluationResult off = TestShard.decide(Optional.of(single), new TestShard.Setting(2, 4));
        assertTrue(off.isDisabled());
        assertTrue(off.getReason().orElseThrow().contains("NSA_TEST_SHARD=2/4"), off.getReason().orElseThrow());
        assertFalse(TestShard.decide(Optional.of(matrix), new TestShard.Setting(2, 4)).isDisabled(),
                "parameterized tests run in every shard (their sources split the cases)");
        assertFalse(TestShard.decide(Optional.empty(), new TestShard.Setting(2, 4)).isDisabled(), "classes run");
    }

    @ParameterizedTest
    @ValueSource(ints = 1)
    void matrixCase(int x) {
        assertEquals(1, x);
    }

    @Test
    void malformedShardsNameTheSetting() {
        for (String bad : new String[]{"3", "a/4", "4/4", "-1/4", "1/0"}) {
            System.setProperty("nsa.test.shard", bad);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TestShard.cases(CASES), bad);
            assertTrue(e.getMessage().contains("NSA_TEST_SHARD"), e.getMessage());
        }
    }
}
