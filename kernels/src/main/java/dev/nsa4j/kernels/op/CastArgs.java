package dev.nsa4j.kernels.op;

import dev.nsa4j.kernels.DeviceTensor;

/** A dtype cast between two contiguous tensors of the same dims. */
public record CastArgs(DeviceTensor in, DeviceTensor out) {
}
