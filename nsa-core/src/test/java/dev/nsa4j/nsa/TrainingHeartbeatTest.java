package dev.nsa4j.nsa;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateOverride;
import dev.nsa4j.attention.GateStats;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link TrainingHeartbeat}: one valid JSON object per step, non-finite values as null, appended and flushed. */
class TrainingHeartbeatTest {
    private static final GateStats STATS = GateStats.of(new double[] {0.2, 0.6, 0.2, 1, 1, 1}, GateOverride.NONE);

    @Test
    void aBeatIsOneJsonObjectWithTheRoutingKeys() throws IOException {
        StringWriter w = new StringWriter();
        TrainingHeartbeat hb = new TrainingHeartbeat(w);
        String line = hb.beat(new TrainingHeartbeat.Beat(7, 2.5, 4096, Duration.ofMillis(500), Duration.ofMillis(20),
                STATS, new DeviceMemory.Stats(3, 1 << 20)));
        assertEquals(line + "\n", w.toString());
        List<String> keys = keys(line);
        assertEquals(List.of("step", "loss", "toks_per_s", "dt_step_s", "dt_fetch_s", "gate_entropy_mean",
                "gate_entropy_min", "gate_max", "gate_collapse_frac", "gate_branch_shares", "gate_rows", "device_bytes",
                "device_allocations"), keys);
        assertTrue(line.startsWith("{\"step\":7,\"loss\":2.5,\"toks_per_s\":8192.0,\"dt_step_s\":0.5,\"dt_fetch_s\":0.02,"),
                line);
        assertTrue(line.contains("\"gate_branch_shares\":[" + STATS.shareCmp() + "," + STATS.shareSel() + ","
                + STATS.shareWin() + "]"), line);
        assertTrue(line.endsWith("\"gate_rows\":2,\"device_bytes\":1048576,\"device_allocations\":3}"), line);
    }

    @Test
    void nonFiniteValuesAndAbsentPartsAreNull() throws IOException {
        String line = TrainingHeartbeat.line(new TrainingHeartbeat.Beat(0, Double.NaN, 0, Duration.ofNanos(1),
                Duration.ZERO, null, null));
        keys(line);   // still valid JSON
        assertTrue(line.contains("\"loss\":null"), line);
        assertTrue(line.contains("\"toks_per_s\":0.0"), line);
        assertTrue(line.contains("\"gate_entropy_mean\":null") && line.contains("\"gate_branch_shares\":null"), line);
        assertTrue(line.endsWith("\"device_bytes\":null,\"device_allocations\":null}"), line);
        String none = TrainingHeartbeat.line(new TrainingHeartbeat.Beat(1, 1, 1, Duration.ofSeconds(1), Duration.ZERO,
                GateStats.of(new double[] {0, 0, 0}, GateOverride.NONE), null));
        assertTrue(none.contains("\"gate_branch_shares\":[null,null,null]"), none);
    }

    @Test
    void aFileIsAppendedAcrossRuns(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("heartbeat.jsonl");
        for (int run = 0; run < 2; run++) {
            try (TrainingHeartbeat hb = TrainingHeartbeat.append(f)) {
                hb.beat(new TrainingHeartbeat.Beat(2 * run, 1, 10, Duration.ofMillis(1), Duration.ZERO, STATS, null));
                hb.beat(new TrainingHeartbeat.Beat(2 * run + 1, 1, 10, Duration.ofMillis(1), Duration.ZERO, STATS, null));
                assertEquals(2 * run + 2, Files.readAllLines(f).size(), "flushed after each line");
            }
        }
        List<String> lines = Files.readAllLines(f);
        for (int i = 0; i < 4; i++) {
            assertTrue(lines.get(i).startsWith("{\"step\":" + i + ","), lines.get(i));
        }
    }

    @Test
    void badBeatsNameTheField() {
        Duration ms = Duration.ofMillis(1);
        assertTrue(assertThrows(NsaArgumentException.class, () -> new TrainingHeartbeat.Beat(-1, 0, 0, ms, ms, null,
                null)).getMessage().contains("heartbeat.step"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> new TrainingHeartbeat.Beat(0, 0, -5, ms, ms, null,
                null)).getMessage().contains("heartbeat.tokens"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> new TrainingHeartbeat.Beat(0, 0, 0, Duration.ZERO, ms,
                null, null)).getMessage().contains("heartbeat.step_time"));
        assertTrue(assertThrows(NsaArgumentException.class, () -> new TrainingHeartbeat.Beat(0, 0, 0, ms,
                Duration.ofMillis(-1), null, null)).getMessage().contains("heartbeat.fetch_time"));
    }

    /** The top-level keys of a JSON object line, in order; fails on invalid JSON or trailing text. */
    private static List<String> keys(String line) throws IOException {
        List<String> keys = new ArrayList<>();
        try (JsonParser p = new JsonFactory().createParser(line)) {
            assertEquals(JsonToken.START_OBJECT, p.nextToken());
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_OBJECT) {
                assertEquals(JsonToken.FIELD_NAME, t);
                keys.add(p.currentName());
                p.nextToken();
                p.skipChildren();
            }
            assertEquals(null, p.nextToken(), "one object per line");
        }
        return keys;
    }
}
