package dev.nsa4j.kernels.internal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The C layout of a params struct on the x86-64/CUDA ABI: each field at the next offset aligned to its
 * natural alignment, the size rounded up to the largest alignment. {@link #writer()} fills the struct's
 * bytes (little-endian) field by field, in declaration order, checking each field's kind.
 *
 * <p>A layout here must match the struct in {@code nsa_params.h}; the probe kernel
 * {@code nsa_params_layout} reports the device's view, and a GPU test compares the two.
 */
public final class StructLayout {
    /** Field kinds a params struct may hold (pointers are raw device addresses). */
    public enum Kind {
        POINTER(8), I64(8), I32(4), F32(4);

        final int size;

        Kind(int size) {
            this.size = size;
        }
    }

    /** A field and its byte offset. */
    public record Field(String name, Kind kind, int offset) {
    }

    private final String name;
    private final List<Field> fields;
    private final int size;

    private StructLayout(String name, List<Field> fields, int size) {
        this.name = name;
        this.fields = List.copyOf(fields);
        this.size = size;
    }

    /** Starts the layout of the C struct {@code name}. */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** Builds a layout by appending fields in declaration order. */
    public static final class Builder {
        private final String name;
        private final List<Field> fields = new ArrayList<>();
        private int offset;
        private int maxAlign = 1;

        private Builder(String name) {
            this.name = name;
        }

        public Builder field(String fieldName, Kind kind) {
            for (Field f : fields) {
                if (f.name().equals(fieldName)) {
                    throw new IllegalArgumentException(name + "." + fieldName + " declared twice");
                }
            }
            offset = align(offset, kind.size);
            fields.add(new Field(fieldName, kind, offset));
            offset += kind.size;
            maxAlign = Math.max(maxAlign, kind.size);
            return this;
        }

        public Builder pointer(String fieldName) {
            return field(fieldName, Kind.POINTER);
        }

        public Builder i64(String... names) {
            for (String n : names) {
                field(n, Kind.I64);
            }
            return this;
        }

        public Builder i32(String... names) {
            for (String n : names) {
                field(n, Kind.I32);
            }
            return this;
        }

        public Builder f32(String fieldName) {
            return field(fieldName, Kind.F32);
        }

        public StructLayout build() {
            return new StructLayout(name, fields, align(offset, maxAlign));
        }
    }

    static int align(int offset, int alignment) {
        return (offset + alignment - 1) / alignment * alignment;
    }

    public String name() {
        return name;
    }

    public List<Field> fields() {
        return fields;
    }

    /** {@code sizeof} of the struct. */
    public int size() {
        return size;
    }

    public int offsetOf(String fieldName) {
        for (Field f : fields) {
            if (f.name().equals(fieldName)) {
                return f.offset();
            }
        }
        throw new IllegalArgumentException(name + " has no field " + fieldName);
    }

    /** What the probe kernel writes for this struct: sizeof, then every field's offset. */
    public long[] probeImage() {
        long[] out = new long[1 + fields.size()];
        out[0] = size;
        for (int i = 0; i < fields.size(); i++) {
            out[i + 1] = fields.get(i).offset();
        }
        return out;
    }

    public Writer writer() {
        return new Writer();
    }

    /** Writes field values in declaration order into the struct's bytes. */
    public final class Writer {
        private final ByteBuffer buf = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        private int next;

        private Writer() {
        }

        private Field expect(Kind kind) {
            if (next >= fields.size()) {
                throw new IllegalStateException(name + ": more values than fields");
            }
            Field f = fields.get(next++);
            if (f.kind() != kind) {
                throw new IllegalStateException(name + "." + f.name() + " is " + f.kind() + ", written as " + kind);
            }
            return f;
        }

        public Writer pointer(long address) {
            buf.putLong(expect(Kind.POINTER).offset(), address);
            return this;
        }

        public Writer i64(long v) {
            buf.putLong(expect(Kind.I64).offset(), v);
            return this;
        }

        public Writer i32(int v) {
            buf.putInt(expect(Kind.I32).offset(), v);
            return this;
        }

        public Writer f32(float v) {
            buf.putFloat(expect(Kind.F32).offset(), v);
            return this;
        }

        /** The struct's bytes; every field must have been written. */
        public byte[] bytes() {
            if (next != fields.size()) {
                throw new IllegalStateException(name + ": " + (fields.size() - next) + " fields not written, next "
                        + fields.get(next).name());
            }
            return buf.array();
        }
    }

    @Override
    public String toString() {
        return name + fields + " sizeof " + size;
    }
}
