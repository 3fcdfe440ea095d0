/**
 * The FA-2 input contracts (docs/routing.md, "FA-2 preconditions"): a host-side description of one attention
 * call ({@link dev.nsa4j.fa2.contract.Fa2Request}) and one cheap check of it
 * ({@link dev.nsa4j.fa2.contract.Fa2Contract#check}) that names every broken
 * {@link dev.nsa4j.fa2.contract.Fa2Rule} in a {@link dev.nsa4j.fa2.contract.Fa2Verdict}. No CUDA call, no
 * device sync: the check reads shapes, strides, addresses and the host copies of {@code cu_seqlens}.
 *
 * <p>A verdict is either ok (FA-2 may run, possibly after an fp32 cast), excluded (the bridge routes to the
 * reference path and logs {@link dev.nsa4j.fa2.contract.Fa2Verdict#reason()}), or fatal (no path can serve
 * the input: the bridge throws {@link dev.nsa4j.fa2.contract.Fa2Verdict#toException()} before any kernel runs).
 */
package dev.nsa4j.fa2.contract;
