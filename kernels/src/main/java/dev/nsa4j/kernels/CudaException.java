package dev.nsa4j.kernels;

/**
 * A CUDA driver call failed. The message names the call, the error's name and its description, as
 * {@code cuMemAlloc(1099511627776 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)}.
 *
 * <p>Asynchronous errors (an illegal address inside a kernel) surface at a later call on the same
 * context, often a synchronisation; the context is then unusable (CUDA's rule, not ours).
 */
public final class CudaException extends RuntimeException {
    private final String call;
    private final int code;
    private final String errorName;

    public CudaException(String call, int code, String errorName, String errorString) {
        super(call + " failed: " + errorName + " (" + errorString + ")");
        this.call = call;
        this.code = code;
        this.errorName = errorName;
    }

    /** The driver call, with its salient arguments. */
    public String call() {
        return call;
    }

    /** The {@code CUresult} value. */
    public int code() {
        return code;
    }

    /** {@code CUDA_ERROR_...}, from {@code cuGetErrorName}. */
    public String errorName() {
        return errorName;
    }
}
