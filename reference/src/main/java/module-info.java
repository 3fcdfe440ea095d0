/**
 * nsa4j's public data types and the CPU oracle: errors ({@link dev.nsa4j.NsaArgumentException}), the NSA
 * configuration ({@link dev.nsa4j.config.NsaConfig}), host tensors and {@code .npy} files
 * ({@link dev.nsa4j.tensor.HostTensor}, {@link dev.nsa4j.tensor.Npy}), the tensors in and out of one attention
 * call ({@link dev.nsa4j.attention.NsaInputs}, {@link dev.nsa4j.attention.NsaResult},
 * {@link dev.nsa4j.attention.BatchLayout}, {@link dev.nsa4j.attention.GateOverride}) and the oracle's entry points
 * ({@link dev.nsa4j.oracle.NsaOracle}, {@link dev.nsa4j.oracle.NsaDecoder}, {@link dev.nsa4j.oracle.NsaLayer}).
 * No GPU code. Every package is API.
 *
 * <p>The oracle runs its inner loops on the Vector API when {@code jdk.incubator.vector} is in the boot
 * layer ({@code --add-modules=jdk.incubator.vector}) and on plain loops otherwise, hence {@code requires
 * static}.
 */
module dev.nsa4j.reference {
    requires static jdk.incubator.vector;
    // EJML (NsaLayer's projections): automatic modules named after their jars
    requires ejml.core;
    requires ejml.ddense;

    exports dev.nsa4j;
    exports dev.nsa4j.attention;
    exports dev.nsa4j.config;
    exports dev.nsa4j.oracle;
    exports dev.nsa4j.tensor;
}
