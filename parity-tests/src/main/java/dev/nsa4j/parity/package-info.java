/**
 * The shared parity harness: any two paths on the same inputs, compared by MAE, max abs, max rel and
 * NaN/Inf counts with a pass rule; used by the parity suites and by the benches (validate before timing).
 */
package dev.nsa4j.parity;
