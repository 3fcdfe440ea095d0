/**
 * The FlashAttention-2 path: kernels (own fatbin), input contracts and the guarded bridge.
 *
 * <p>{@code dev.nsa4j.fa2.contract} is API (the rules of docs/routing.md, {@link dev.nsa4j.fa2.contract.Fa2Options}
 * as reported by nsa-core's flags). {@code dev.nsa4j.fa2} (launcher, bridge, audit, parameter layouts) is
 * exported only to the modules that compose or test it.
 *
 * <p>{@code dev.nsa4j.fa2} is opened to {@code dev.nsa4j.kernels} because its kernel image
 * ({@code dev/nsa4j/fa2/nsa4j-fa2.fatbin}, a resource of this module) is read by
 * {@code KernelImage.resource(Fa2Module.class, ...)}, code of that module: a resource in a package of a named
 * module is found only by callers the package is open to.
 */
@SuppressWarnings("module") // qualified exports name modules built after this one
module dev.nsa4j.fa2 {
    requires transitive dev.nsa4j.kernels;
    requires jcuda; // Fa2Audit reports JCuda's version

    exports dev.nsa4j.fa2.contract;
    exports dev.nsa4j.fa2 to dev.nsa4j.nsa, dev.nsa4j.parity, dev.nsa4j.bench;
    opens dev.nsa4j.fa2 to dev.nsa4j.kernels;
}
