package dev.nsa4j.oracle;

/**
 * Where the keys and values of one KV group live in fp64 arrays. Keys are stored transposed (dim-major):
 * element c of token s's key is {@code kT[kOff + c * kRow + s]}, so the scores of a run of consecutive
 * keys are a sum of axpys the JIT vectorises. Values are token-major: token s's value starts at
 * {@code v[vOff + s * vStride]}. Offsets may be negative when an array holds only a suffix of the
 * sequence (decode caches); only addressed tokens must exist.
 */
record KvView(double[] kT, int kOff, int kRow, double[] v, int vOff, int vStride) {}
