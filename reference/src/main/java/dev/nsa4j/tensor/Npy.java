package dev.nsa4j.tensor;

import dev.nsa4j.NsaArgumentException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0), so nsa4j can be checked
 * against PyTorch or NumPy with {@code np.save} / {@code np.load}.
 *
 * <p>Supported: C order ({@code fortran_order: False}) only; dtypes {@code '<f4'} (FP32), {@code '<f2'}
 * (FP16) and {@code '<i4'} (INT32). The byte-order marks {@code '='} and {@code '|'} (and none) are
 * accepted as little-endian; {@code '>'} is refused. Any shape, including 0-d ({@code ()}) and empty ones.
 * BF16 has no NumPy dtype and cannot be written (convert with {@code tensor.to(DType.FP32)}).
 *
 * <p>Errors. Everything wrong with a file's existence or content (missing file, not an .npy, unsupported
 * version, Fortran order, unsupported or unexpected dtype, truncated data, unparsable header) is an
 * {@link NsaArgumentException} whose {@code subject} is the file as given and whose {@code rule} names the
 * broken rule (for example {@code "dtype float32 ('<f4')"}). Failures of the file system itself (no
 * permission, disk full, a directory where a file should be) propagate as {@link IOException}.
 *
 * <p>{@link #write} emits version 1.0 (2.0 only if the header needs more than 65535 bytes) exactly as
 * NumPy does: the header dict {@code {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }} padded
 * with spaces and a final {@code '\n'} so the data starts at a multiple of 64 bytes; data in C order,
 * little-endian, with strided views written in logical order.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int ALIGN = 64;

    private Npy() {}

    /** The contents of a file, in a fresh contiguous tensor of the file's dtype. */
    public static HostTensor read(Path file) throws IOException {
        return read(file, null);
    }

    /**
     * Reads a file and requires its dtype.
     *
     * @param expected the dtype the caller needs, or {@code null} for any supported dtype
     * @throws NsaArgumentException if the file is missing or malformed, or holds another dtype (the message
     *                              names the file, the expected and the actual dtype)
     */
    public static HostTensor read(Path file, DType expected) throws IOException {
        String name = file.toString();
        if (Files.isDirectory(file)) {
            throw new NsaArgumentException(name, "file exists", "a directory, not an .npy file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer pre = readFully(ch, 0, (int) Math.min(size, 12));
            if (pre.remaining() < 8 || !hasMagic(pre)) {
                throw new NsaArgumentException(name, "NumPy .npy magic",
                        "not an .npy file: it does not start with \\x93NUMPY");
            }
            int major = pre.get(6) & 0xff;
            int minor = pre.get(7) & 0xff;
            if (major < 1 || major > 3 || minor != 0) {
                throw new NsaArgumentException(name, ".npy version 1.0, 2.0 or 3.0",
                        "unsupported format version " + major + "." + minor);
            }
            int lenBytes = major == 1 ? 2 : 4;
            if (pre.remaining() < 8 + lenBytes) {
                throw new NsaArgumentException(name, "complete header", "file ends inside the header length");
            }
            long headerLen = major == 1 ? pre.order(ByteOrder.LITTLE_ENDIAN).getShort(8) & 0xffff
                    : pre.order(ByteOrder.LITTLE_ENDIAN).getInt(8) & 0xffffffffL;
            long dataStart = 8 + lenBytes + headerLen;
            if (dataStart > size || headerLen > Integer.MAX_VALUE) {
                throw new NsaArgumentException(name, "complete header",
                        "header of " + headerLen + " bytes runs past the end of the " + size + "-byte file");
            }
            ByteBuffer hb = readFully(ch, 8 + lenBytes, (int) headerLen);
            byte[] raw = new byte[hb.remaining()];
            hb.get(raw);
            String header = new String(raw, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            Header h = Header.parse(name, header);

            if (h.fortranOrder) {
                throw new NsaArgumentException(name, "C order (fortran_order False)",
                        "array is in Fortran order; save it with np.save(f, np.ascontiguousarray(a))");
            }
            DType dt = dtypeOf(h.descr);
            if (expected != null && dt != expected) {
                throw new NsaArgumentException(name, "dtype " + describe(expected),
                        "expected " + describe(expected) + ", got " + describeDescr(h.descr));
            }
            if (dt == null) {
                throw new NsaArgumentException(name, "dtype float32 ('<f4'), float16 ('<f2') or int32 ('<i4')",
                        "unsupported dtype " + describeDescr(h.descr));
            }
            long numel = 1;
            for (int d : h.shape) {
                numel = Math.multiplyExact(numel, (long) d);
            }
            long dataBytes = Math.multiplyExact(numel, (long) dt.byteSize());
            if (size - dataStart < dataBytes) {
                throw new NsaArgumentException(name, "complete data",
                        "truncated data: shape " + Arrays.toString(h.shape) + " of " + describe(dt) + " needs "
                                + dataBytes + " bytes after the header, the file has " + (size - dataStart));
            }
            HostTensor t = HostTensor.zeros(dt, h.shape);
            if (dataBytes > 0) {
                MemorySegment seg = t.segment().asSlice(0, dataBytes);
                long pos = dataStart;
                for (long done = 0; done < dataBytes; ) {
                    long chunk = Math.min(dataBytes - done, 1L << 30);
                    ByteBuffer bb = seg.asSlice(done, chunk).asByteBuffer();
                    while (bb.hasRemaining()) {
                        int n = ch.read(bb, pos);
                        if (n < 0) {
                            throw new NsaArgumentException(name, "complete data", "file shrank while reading");
                        }
                        pos += n;
                    }
                    done += chunk;
                }
                if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                    swapToNative(seg, dt.byteSize());
                }
            }
            return t;
        } catch (NoSuchFileException e) {
            throw new NsaArgumentException(name, "file exists", "no such file");
        } catch (ArithmeticException e) {
            throw new NsaArgumentException(name, "shape fits in memory", "the shape's size overflows a long");
        }
    }

    /**
     * Writes a tensor as a version-1.0 .npy file (replacing an existing file).
     *
     * @throws NsaArgumentException for a BF16 tensor (NumPy has no bfloat16; convert to FP32 first)
     */
    public static void write(Path file, HostTensor t) throws IOException {
        DType dt = t.dtype();
        if (dt.npyDescr() == null) {
            throw new NsaArgumentException(file.toString(), "dtype with a NumPy equivalent",
                    dt + " has no NumPy dtype; convert it first, e.g. tensor.to(DType.FP32)");
        }
        byte[] header = header(dt.npyDescr(), t.shape().dims());
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(header);
            writeData(out, t);
        }
    }

    /** The exact bytes before the data that NumPy writes for this dtype and shape (magic to final '\n'). */
    static byte[] header(String descr, int[] dims) {
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) {
                shape.append(", ");
            }
            shape.append(dims[i]);
        }
        if (dims.length == 1) {
            shape.append(',');
        }
        shape.append(')');
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
        int hlen = dict.length() + 1;
        int pad = ALIGN - ((10 + hlen) % ALIGN);
        int major = hlen + pad <= 0xffff ? 1 : 2;
        if (major == 2) {
            pad = ALIGN - ((12 + hlen) % ALIGN);
        }
        int pre = major == 1 ? 10 : 12;
        String full = dict + " ".repeat(pad) + "\n";
        byte[] hdr = full.getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(pre + hdr.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            b.putShort((short) hdr.length);
        } else {
            b.putInt(hdr.length);
        }
        b.put(hdr);
        return b.array();
    }

    private static void writeData(OutputStream out, HostTensor t) throws IOException {
        long n = t.numel();
        if (n == 0) {
            return;
        }
        int es = t.dtype().byteSize();
        MemorySegment src = t.segment();
        boolean le = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        if (t.isContiguous() && le) {
            byte[] buf = new byte[(int) Math.min(n * es, 1 << 20)];
            for (long off = 0, total = n * es; off < total; ) {
                int len = (int) Math.min(buf.length, total - off);
                MemorySegment.copy(src, ValueLayout.JAVA_BYTE, off, buf, 0, len);
                out.write(buf, 0, len);
                off += len;
            }
            return;
        }
        // Strided view (or big-endian host): gather element by element in logical order.
        Shape s = t.shape();
        int rank = s.rank();
        int[] idx = new int[rank];
        byte[] buf = new byte[64 * 1024];
        int fill = 0;
        long off = 0;
        for (long i = 0; i < n; i++) {
            long b = off * es;
            for (int k = 0; k < es; k++) {
                int from = le ? k : es - 1 - k;
                buf[fill++] = src.get(ValueLayout.JAVA_BYTE, b + from);
            }
            if (fill == buf.length) {
                out.write(buf, 0, fill);
                fill = 0;
            }
            for (int a = rank - 1; a >= 0; a--) {
                idx[a]++;
                off += s.stride(a);
                if (idx[a] < s.dim(a)) {
                    break;
                }
                off -= (long) idx[a] * s.stride(a);
                idx[a] = 0;
            }
        }
        out.write(buf, 0, fill);
    }

    private static void swapToNative(MemorySegment seg, int es) {
        for (long b = 0; b < seg.byteSize(); b += es) {
            for (int k = 0; k < es / 2; k++) {
                byte x = seg.get(ValueLayout.JAVA_BYTE, b + k);
                seg.set(ValueLayout.JAVA_BYTE, b + k, seg.get(ValueLayout.JAVA_BYTE, b + es - 1 - k));
                seg.set(ValueLayout.JAVA_BYTE, b + es - 1 - k, x);
            }
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len);
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) {
                break;
            }
        }
        return b.flip();
    }

    private static boolean hasMagic(ByteBuffer b) {
        for (int i = 0; i < MAGIC.length; i++) {
            if (b.get(i) != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /** The supported dtype of a descr, or {@code null}. */
    static DType dtypeOf(String descr) {
        if (descr == null || descr.isEmpty()) {
            return null;
        }
        char order = descr.charAt(0);
        String code = descr;
        if (order == '<' || order == '=' || order == '|') {
            if (order != '<' && ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                return null;
            }
            code = descr.substring(1);
        } else if (order == '>') {
            return null;
        }
        return switch (code) {
            case "f4" -> DType.FP32;
            case "f2" -> DType.FP16;
            case "i4" -> DType.INT32;
            default -> null;
        };
    }

    /** {@code float32 ('<f4')}. */
    public static String describe(DType dt) {
        return switch (dt) {
            case FP32 -> "float32 ('<f4')";
            case FP16 -> "float16 ('<f2')";
            case INT32 -> "int32 ('<i4')";
            case BF16 -> "bfloat16 (no NumPy dtype)";
        };
    }

    /** {@code float64 ('<f8')}, naming the NumPy type where it is a common one. */
    static String describeDescr(String descr) {
        String code = descr.isEmpty() ? descr : descr.substring("<>=|".indexOf(descr.charAt(0)) >= 0 ? 1 : 0);
        String np = switch (code) {
            case "f2" -> "float16";
            case "f4" -> "float32";
            case "f8" -> "float64";
            case "f16" -> "float128";
            case "i1" -> "int8";
            case "i2" -> "int16";
            case "i4" -> "int32";
            case "i8" -> "int64";
            case "u1" -> "uint8";
            case "u2" -> "uint16";
            case "u4" -> "uint32";
            case "u8" -> "uint64";
            case "b1" -> "bool";
            case "c8" -> "complex64";
            case "c16" -> "complex128";
            case "V2" -> "void16 (ml_dtypes bfloat16?)";
            default -> null;
        };
        String big = descr.startsWith(">") ? "big-endian " : "";
        return np == null ? "'" + descr + "'" : big + np + " ('" + descr + "')";
    }

    /** The parsed header dict. */
    private record Header(String descr, boolean fortranOrder, int[] shape) {
        static Header parse(String file, String text) {
            HeaderParser p = new HeaderParser(file, text);
            return p.parse();
        }
    }

    /** A parser for the Python dict literal of an .npy header; tolerant of quotes, spacing and key order. */
    private static final class HeaderParser {
        private final String file;
        private final String s;
        private int i;

        HeaderParser(String file, String s) {
            this.file = file;
            this.s = s;
        }

        Header parse() {
            String descr = null;
            Boolean fortran = null;
            int[] shape = null;
            expect('{');
            while (true) {
                skipWs();
                if (peek() == '}') {
                    i++;
                    break;
                }
                String key = string();
                expect(':');
                skipWs();
                switch (key) {
                    case "descr" -> {
                        if (peek() != '\'' && peek() != '"') {
                            throw fail("'descr' is not a simple dtype string (structured arrays are not supported)");
                        }
                        descr = string();
                    }
                    case "fortran_order" -> fortran = bool();
                    case "shape" -> shape = tuple();
                    default -> throw fail("unexpected key '" + key + "'");
                }
                skipWs();
                if (peek() == ',') {
                    i++;
                } else if (peek() != '}') {
                    throw fail("expected ',' or '}' at offset " + i);
                }
            }
            if (descr == null || fortran == null || shape == null) {
                throw fail("header lacks one of 'descr', 'fortran_order', 'shape'");
            }
            return new Header(descr, fortran, shape);
        }

        private String string() {
            skipWs();
            char q = peek();
            if (q != '\'' && q != '"') {
                throw fail("expected a quoted string at offset " + i);
            }
            int end = s.indexOf(q, i + 1);
            if (end < 0) {
                throw fail("unterminated string at offset " + i);
            }
            String v = s.substring(i + 1, end);
            i = end + 1;
            return v;
        }

        private boolean bool() {
            if (s.startsWith("True", i)) {
                i += 4;
                return true;
            }
            if (s.startsWith("False", i)) {
                i += 5;
                return false;
            }
            throw fail("expected True or False at offset " + i);
        }

        private int[] tuple() {
            expect('(');
            List<Integer> dims = new ArrayList<>();
            while (true) {
                skipWs();
                if (peek() == ')') {
                    i++;
                    break;
                }
                int start = i;
                while (i < s.length() && Character.isDigit(s.charAt(i))) {
                    i++;
                }
                if (start == i) {
                    throw fail("expected a non-negative dimension at offset " + i);
                }
                long v;
                try {
                    v = Long.parseLong(s.substring(start, i));
                } catch (NumberFormatException e) {
                    v = Long.MAX_VALUE;
                }
                if (v > Integer.MAX_VALUE) {
                    throw new NsaArgumentException(file, "dimensions fit in int32",
                            "dimension " + s.substring(start, i) + " is too large");
                }
                if (i < s.length() && (s.charAt(i) == 'L' || s.charAt(i) == 'l')) {
                    i++;
                }
                dims.add((int) v);
                skipWs();
                if (peek() == ',') {
                    i++;
                } else if (peek() != ')') {
                    throw fail("expected ',' or ')' in shape at offset " + i);
                }
            }
            return dims.stream().mapToInt(Integer::intValue).toArray();
        }

        private void expect(char c) {
            skipWs();
            if (peek() != c) {
                throw fail("expected '" + c + "' at offset " + i);
            }
            i++;
        }

        private char peek() {
            if (i >= s.length()) {
                throw fail("header ends early");
            }
            return s.charAt(i);
        }

        private void skipWs() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }

        private NsaArgumentException fail(String why) {
            String shown = s.strip();
            if (shown.length() > 120) {
                shown = shown.substring(0, 120) + "...";
            }
            return new NsaArgumentException(file, "parsable .npy header",
                    why + "; header: " + shown);
        }
    }
}
