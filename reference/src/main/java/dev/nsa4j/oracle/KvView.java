package dev.nsa4j.oracle;

/**
 * Where the keys and values of one KV group live in fp64 arrays: token {@code s}'s key starts at
 * {@code kOff + s * kStride} and its value at {@code vOff + s * vStride}. Offsets may be negative when the
 * array holds only a suffix of the sequence (the decode window cache); only addressed tokens must exist.
 */
record KvView(double[] k, int kOff, int kStride, double[] v, int vOff, int vStride) {}
