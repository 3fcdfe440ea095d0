package dev.nsa4j.nsa;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.nsa4j.NsaArgumentException;
import dev.nsa4j.attention.GateStats;
import java.io.Closeable;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Objects;

/**
 * The training heartbeat of docs/routing.md "Observability": one JSON object per line per training step, flushed as
 * it is written, so a monitor can follow a run ({@code tail -f}) and a crashed run keeps every finished step.
 * Keys, in this order:
 * <pre>
 *   step, loss, toks_per_s, dt_step_s, dt_fetch_s,
 *   gate_entropy_mean, gate_entropy_min, gate_max, gate_collapse_frac, gate_branch_shares [cmp, sel, win],
 *   gate_rows, device_bytes, device_allocations
 * </pre>
 * A value that is not a finite number (a NaN loss, no gate rows, no GPU) is written as {@code null}, never as a
 * non-JSON token. {@code device_*} are nsa4j's own device allocations ({@link NsaAttention#deviceMemory()}).
 */
public final class TrainingHeartbeat implements Closeable {
    private static final JsonFactory JSON = new JsonFactory();

    /**
     * One step.
     *
     * @param step      the training step, {@code >= 0}
     * @param loss      the step's loss (any value; NaN is written as null, so a diverged run shows)
     * @param tokens    tokens the step processed, {@code >= 0}
     * @param stepTime  wall time of the step, positive
     * @param fetchTime time spent waiting for the step's data, {@code >= 0}
     * @param gates     the step's gate statistics ({@link NsaAttention#gateStats}), or null
     * @param memory    nsa4j's device memory, or null (CPU)
     */
    public record Beat(long step, double loss, long tokens, Duration stepTime, Duration fetchTime, GateStats gates,
                       DeviceMemory.Stats memory) {
        public Beat {
            if (step < 0) {
                throw new NsaArgumentException("heartbeat.step", "a step >= 0", "got " + step);
            }
            if (tokens < 0) {
                throw new NsaArgumentException("heartbeat.tokens", "tokens >= 0", "got " + tokens);
            }
            Objects.requireNonNull(stepTime, "stepTime");
            Objects.requireNonNull(fetchTime, "fetchTime");
            if (stepTime.isZero() || stepTime.isNegative()) {
                throw new NsaArgumentException("heartbeat.step_time", "a positive step time", "got " + stepTime);
            }
            if (fetchTime.isNegative()) {
                throw new NsaArgumentException("heartbeat.fetch_time", "a fetch time >= 0", "got " + fetchTime);
            }
        }
    }

    private final Writer out;

    /** Lines to {@code out} (flushed after each line; closed by {@link #close()}). */
    public TrainingHeartbeat(Writer out) {
        this.out = Objects.requireNonNull(out, "out");
    }

    /**
     * Lines appended to {@code file} (created when absent, so a resumed run continues the same file).
     *
     * @throws UncheckedIOException when the file cannot be opened for appending
     */
    public static TrainingHeartbeat append(Path file) {
        Objects.requireNonNull(file, "file");
        try {
            return new TrainingHeartbeat(Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND, StandardOpenOption.WRITE));
        } catch (IOException e) {
            throw new UncheckedIOException("heartbeat file " + file + " cannot be opened for appending", e);
        }
    }

    /**
     * Writes one step's line and flushes it.
     *
     * @return the line written (without its newline)
     * @throws UncheckedIOException when the line cannot be written
     */
    public synchronized String beat(Beat b) {
        Objects.requireNonNull(b, "beat");
        String line = line(b);
        try {
            out.write(line);
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("heartbeat line of step " + b.step() + " not written", e);
        }
        return line;
    }

    /** The JSON line of one step (no newline). */
    static String line(Beat b) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeNumberField("step", b.step());
            number(g, "loss", b.loss());
            double secs = b.stepTime().toNanos() / 1e9;
            number(g, "toks_per_s", b.tokens() / secs);
            number(g, "dt_step_s", secs);
            number(g, "dt_fetch_s", b.fetchTime().toNanos() / 1e9);
            GateStats s = b.gates();
            number(g, "gate_entropy_mean", s == null ? Double.NaN : s.entropyMean());
            number(g, "gate_entropy_min", s == null ? Double.NaN : s.entropyMin());
            number(g, "gate_max", s == null ? Double.NaN : s.maxGate());
            number(g, "gate_collapse_frac", s == null ? Double.NaN : s.collapseFraction());
            g.writeFieldName("gate_branch_shares");
            if (s == null) {
                g.writeNull();
            } else {
                g.writeStartArray();
                for (double v : new double[] {s.shareCmp(), s.shareSel(), s.shareWin()}) {
                    if (Double.isFinite(v)) {
                        g.writeNumber(v);
                    } else {
                        g.writeNull();
                    }
                }
                g.writeEndArray();
            }
            if (s == null) {
                g.writeNullField("gate_rows");
            } else {
                g.writeNumberField("gate_rows", s.rows());
            }
            if (b.memory() == null) {
                g.writeNullField("device_bytes");
                g.writeNullField("device_allocations");
            } else {
                g.writeNumberField("device_bytes", b.memory().bytes());
                g.writeNumberField("device_allocations", b.memory().allocations());
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);   // a StringWriter does not fail
        }
        return w.toString();
    }

    private static void number(JsonGenerator g, String name, double v) throws IOException {
        if (Double.isFinite(v)) {
            g.writeNumberField(name, v);
        } else {
            g.writeNullField(name);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
