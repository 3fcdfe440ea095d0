package dev.nsa4j.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import dev.nsa4j.NsaArgumentException;

/**
 * Chosen block sets for {@code nsa bench selection}: {@code int32 [B·S, G, n]}, per (token, group) row sorted
 * ascending and −1 padded, as NSA's top-n picks them on random inputs. For token t (position in its sequence),
 * cur = t / l': when cur + 1 ≤ n every block 0..cur; else the forced {0, cur − 1, cur} and n − 3 distinct blocks
 * of 1..cur−2 drawn uniformly (bench/peers/fla_selection.py draws the same kind of sets, and writes its own as a
 * file {@link #read} takes, for a run on the very same blocks).
 */
final class SelectionIndices {
    private SelectionIndices() {
    }

    /** Random sets for B sequences of S tokens, G groups, n blocks of l' tokens; the same for the same seed. */
    static int[] random(int b, int s, int g, int n, int selBlock, long seed) {
        if (n < 3) {
            throw new NsaArgumentException("--n-sel", "n >= 3 (blocks 0, cur - 1 and cur are forced)", "n = " + n);
        }
        int[] out = new int[Math.multiplyExact(Math.multiplyExact(b, s), Math.multiplyExact(g, n))];
        Arrays.fill(out, -1);
        int[] pick = new int[n];
        for (int row = 0; row < b * s * g; row++) {
            int t = (row / g) % s;
            int cur = t / selBlock;
            int base = row * n;
            if (cur + 1 <= n) {
                for (int j = 0; j <= cur; j++) {
                    out[base + j] = j;
                }
                continue;
            }
            SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + row);
            pick[0] = 0;
            pick[1] = cur - 1;
            pick[2] = cur;
            int m = 3;
            while (m < n) {   // n - 3 distinct draws of 1..cur-2; cur >= n, so there are at least n - 2 of them
                int j = 1 + rnd.nextInt(cur - 2);
                boolean fresh = true;
                for (int e = 3; e < m && fresh; e++) {
                    fresh = pick[e] != j;
                }
                if (fresh) {
                    pick[m++] = j;
                }
            }
            Arrays.sort(pick, 0, n);
            System.arraycopy(pick, 0, out, base, n);
        }
        return out;
    }

    /**
     * A raw little-endian int32 file of exactly {@code count} entries (e.g. fla_selection.py's {@code --indices-out}).
     *
     * @throws NsaArgumentException naming the file when its size is not {@code 4 · count} bytes
     */
    static int[] read(Path file, long count) throws IOException {
        long size = Files.size(file);
        if (size != 4 * count) {
            throw new NsaArgumentException("--indices", "raw int32 [B·S, G, n]: " + 4 * count + " bytes for this shape",
                    file + " has " + size + " bytes");
        }
        int[] out = new int[Math.toIntExact(count)];
        ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(out);
        return out;
    }

    /**
     * Keys attended per (token, group) row, summed: for each distinct chosen block j ≥ 0 with j·l' ≤ t, the
     * min(l', t − j·l' + 1) keys s ≤ t of it (the FLOP count's key term).
     */
    static long attendedKeys(int[] idx, int b, int s, int g, int n, int selBlock) {
        long keys = 0;
        for (int row = 0; row < b * s * g; row++) {
            long t = (row / g) % s;
            for (int e = 0; e < n; e++) {
                int j = idx[row * n + e];
                boolean first = j >= 0;
                for (int f = 0; f < e && first; f++) {
                    first = idx[row * n + f] != j;
                }
                long lo = (long) j * selBlock;
                if (first && lo <= t) {
                    keys += Math.min(selBlock, t - lo + 1);
                }
            }
        }
        return keys;
    }
}
