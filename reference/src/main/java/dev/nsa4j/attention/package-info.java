/**
 * The tensors in and out of one NSA attention call, whatever computes it (the CPU oracle, the GPU paths):
 * {@link dev.nsa4j.attention.NsaInputs} (host tensors in the NSA spec (docs/nsa-spec.md) layouts), {@link dev.nsa4j.attention.NsaResult}
 * (the outputs, per-branch outputs and log-sum-exps, the chosen blocks), {@link dev.nsa4j.attention.BatchLayout}
 * (dense or varlen) and {@link dev.nsa4j.attention.GateOverride} (the ablation gate overrides).
 */
package dev.nsa4j.attention;
