package dev.nsa4j.bench;

import dev.nsa4j.tensor.HostTensor;

/**
 * What one attention path returns: {@code o} fp32 {@code [nnz_q, H, Dv]} and {@code lse} fp32 {@code [nnz_q, H]}
 * (natural log-sum-exp of the scaled scores; {@code -inf}, with {@code o = 0}, where a query sees no key).
 */
record AttendOutput(HostTensor o, HostTensor lse) {}
