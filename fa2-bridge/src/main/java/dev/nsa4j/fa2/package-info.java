/**
 * The FlashAttention-2 fast path (docs/routing.md path {@code fa2}): the kernels' launcher, the input contracts
 * (every precondition of docs/routing.md checked on the host, no device sync, every failed rule named) and the
 * guarded bridge that falls back to the reference path.
 */
package dev.nsa4j.fa2;
