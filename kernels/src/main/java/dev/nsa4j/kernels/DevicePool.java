package dev.nsa4j.kernels;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * A size-class pool of device buffers bound to ONE stream.
 *
 * <p>Requests round up to a power of two (at least 256 bytes); a released buffer goes back to its class
 * and is handed out again for later work on the same stream, which CUDA orders after every earlier use,
 * so reuse needs no synchronisation. Requests above {@link #MAX_POOLED_BYTES} bypass the cache. Not
 * thread-safe (one stream, one thread of control). {@link #close()} frees the cached blocks.
 */
public final class DevicePool implements AutoCloseable {
    /** Largest pooled block; bigger requests are allocated and freed directly. */
    public static final long MAX_POOLED_BYTES = 1L << 30;
    static final long MIN_CLASS_BYTES = 256;

    private final CudaStream stream;
    private final Map<Long, ArrayDeque<DeviceBuffer>> free = new HashMap<>();
    private final Map<Long, DeviceBuffer> blocks = new HashMap<>();
    private long allocations;
    private long reuses;
    private boolean closed;

    public DevicePool(CudaStream stream) {
        this.stream = stream;
    }

    public CudaStream stream() {
        return stream;
    }

    /** The size class a request of {@code bytes} lands in (the block size allocated for it). */
    public static long sizeClass(long bytes) {
        if (bytes <= MIN_CLASS_BYTES) {
            return MIN_CLASS_BYTES;
        }
        if (bytes > MAX_POOLED_BYTES) {
            return bytes;
        }
        return Long.highestOneBit(bytes - 1) << 1;
    }

    /** A buffer of at least {@code bytes}; close it to give it back. */
    public DeviceBuffer acquire(long bytes) {
        if (closed) {
            throw new IllegalStateException("pool is closed");
        }
        if (bytes < 0) {
            throw new IllegalArgumentException("negative buffer size " + bytes);
        }
        if (bytes > MAX_POOLED_BYTES) {
            allocations++;
            return DeviceBuffer.allocate(stream, bytes);
        }
        long cls = sizeClass(bytes);
        ArrayDeque<DeviceBuffer> q = free.get(cls);
        DeviceBuffer block = q == null ? null : q.poll();
        if (block == null) {
            block = DeviceBuffer.allocate(stream, cls);
            allocations++;
        } else {
            reuses++;
        }
        DeviceBuffer handed = DeviceBuffer.pooled(block, bytes, this);
        blocks.put(handed.address(), block);
        return handed;
    }

    void release(DeviceBuffer handed) {
        DeviceBuffer block = blocks.remove(handed.address());
        if (block == null) {
            return;
        }
        if (closed) {
            block.close();
            return;
        }
        free.computeIfAbsent(block.byteSize(), k -> new ArrayDeque<>()).push(block);
    }

    /** Blocks allocated from the device so far. */
    public long allocations() {
        return allocations;
    }

    /** Requests served from the cache so far. */
    public long reuses() {
        return reuses;
    }

    /** Frees every cached (released) block; buffers still out stay valid. */
    public void trim() {
        for (ArrayDeque<DeviceBuffer> q : free.values()) {
            for (DeviceBuffer b : q) {
                b.close();
            }
        }
        free.clear();
    }

    /** Frees the cached blocks; buffers still out are freed when they are closed. */
    @Override
    public void close() {
        if (!closed) {
            trim();
            closed = true;
        }
    }
}
