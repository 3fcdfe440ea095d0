/**
 * The shared parity harness ({@link dev.nsa4j.parity.ParityHarness}: any two paths on the same inputs,
 * compared by MAE, max abs and rel error and NaN/Inf counts with a pass rule) and, in its tests, the CPU and
 * GPU parity suites, which read every module below (hence {@code requires dev.nsa4j.nsa}).
 */
module dev.nsa4j.parity {
    requires transitive dev.nsa4j.reference;
    requires dev.nsa4j.nsa;

    exports dev.nsa4j.parity;
}
