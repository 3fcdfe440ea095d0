package dev.nsa4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nsa4j.NsaArgumentException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class NpyTest {
    @TempDir
    Path dir;

    /** What NumPy writes for {@code np.save(f, np.arange(6, dtype=np.float32).reshape(2, 3))}. */
    private static byte[] numpyFloat32x2x3() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 'v', 0});
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        b.writeBytes((dict + " ".repeat(118 - dict.length() - 1) + "\n").getBytes(StandardCharsets.US_ASCII));
        ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 6; i++) {
            data.putFloat(i);
        }
        b.writeBytes(data.array());
        return b.toByteArray();
    }

    private static byte[] file(int major, String header, byte[] data) {
        byte[] h = header.getBytes(major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(8 + (major == 1 ? 2 : 4) + h.length + data.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
        if (major == 1) {
            b.putShort((short) h.length);
        } else {
            b.putInt(h.length);
        }
        return b.put(h).put(data).array();
    }

    private static byte[] le(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    private Path put(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void writesExactlyWhatNumpyWrites() throws IOException {
        HostTensor t = HostTensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5}, 2, 3);
        Path p = dir.resolve("a.npy");
        Npy.write(p, t);
        assertArrayEquals(numpyFloat32x2x3(), Files.readAllBytes(p));
    }

    @Test
    void readsNumpyBytes() throws IOException {
        HostTensor t = Npy.read(put("a.npy", numpyFloat32x2x3()), DType.FP32);
        assertArrayEquals(new int[] {2, 3}, t.shape().dims());
        assertArrayEquals(new double[] {0, 1, 2, 3, 4, 5}, t.toDoubleArray());
    }

    @Test
    void headerShapesMatchNumpyRepr() {
        String h1 = new String(Npy.header("<i4", new int[] {5}), StandardCharsets.ISO_8859_1);
        assertTrue(h1.contains("'shape': (5,), }"), h1);
        String h0 = new String(Npy.header("<f2", new int[] {}), StandardCharsets.ISO_8859_1);
        assertTrue(h0.contains("{'descr': '<f2', 'fortran_order': False, 'shape': (), }"), h0);
        for (int[] dims : new int[][] {{}, {1}, {7, 0}, {1, 2, 3, 4, 5, 6, 7, 8}, {123456, 7}}) {
            byte[] h = Npy.header("<f4", dims);
            assertEquals(0, h.length % 64, Arrays.toString(dims));
            assertEquals('\n', h[h.length - 1]);
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FP32", "FP16", "INT32"})
    void roundTripsEveryDtypeAndShape(DType dt) throws IOException {
        int[][] shapes = {{}, {0}, {3, 0, 2}, {1}, {5}, {2, 3}, {2, 3, 4, 5}};
        for (int[] dims : shapes) {
            HostTensor t = HostTensor.zeros(dt, dims);
            double[] v = new double[(int) t.numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = dt == DType.INT32 ? i * 7 - 11 : (i - 3) * 0.37;
            }
            t.copyFrom(v);
            Path p = dir.resolve("t.npy");
            Npy.write(p, t);
            HostTensor back = Npy.read(p, dt);
            assertEquals(dt, back.dtype());
            assertArrayEquals(dims, back.shape().dims());
            assertArrayEquals(t.toDoubleArray(), back.toDoubleArray(), Arrays.toString(dims));
            assertEquals(0, (Files.size(p) - t.numel() * dt.byteSize()) % 64);
        }
    }

    @Test
    void specialValuesSurviveBitExact() throws IOException {
        float[] v = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, Float.MIN_VALUE, 65504f};
        Path p = dir.resolve("s.npy");
        Npy.write(p, HostTensor.ofFloats(v, 6));
        float[] back = Npy.read(p).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.floatToRawIntBits(v[i]), Float.floatToRawIntBits(back[i]));
        }
    }

    @Test
    void stridedViewIsWrittenInLogicalOrder() throws IOException {
        HostTensor base = HostTensor.ofFloats(new float[] {0, 1, 2, 3, 4, 5}, 2, 3);
        HostTensor transposed = base.view(Shape.strided(new int[] {3, 2}, new long[] {1, 3}));
        Path p = dir.resolve("t.npy");
        Npy.write(p, transposed);
        HostTensor back = Npy.read(p);
        assertArrayEquals(new int[] {3, 2}, back.shape().dims());
        assertArrayEquals(new double[] {0, 3, 1, 4, 2, 5}, back.toDoubleArray());

        HostTensor halves = HostTensor.of(DType.FP16, new double[] {1, 2, 3, 4}, 2, 2);
        Npy.write(p, halves.view(Shape.strided(new int[] {2}, new long[] {2})));
        assertArrayEquals(new double[] {1, 3}, Npy.read(p, DType.FP16).toDoubleArray());
    }

    @Test
    void readsVersions2And3AndByteOrderMarks() throws IOException {
        byte[] data = le(1.5f, -2f);
        for (int major = 1; major <= 3; major++) {
            for (String descr : new String[] {"<f4", "=f4", "|f4"}) {
                String h = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"" + descr + "\"}   \n";
                HostTensor t = Npy.read(put("v.npy", file(major, h, data)), DType.FP32);
                assertArrayEquals(new double[] {1.5, -2}, t.toDoubleArray());
            }
        }
        ByteBuffer ints = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(-7).putInt(1 << 30);
        HostTensor it = Npy.read(put("i.npy", file(1,
                "{'descr': '<i4', 'fortran_order': False, 'shape': (1L, 2L), }\n", ints.array())));
        assertEquals(DType.INT32, it.dtype());
        assertArrayEquals(new int[] {-7, 1 << 30}, it.toIntArray());
    }

    @Test
    void ignoresTrailingBytesAsNumpyDoes() throws IOException {
        byte[] f = file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", le(3f, 9f));
        assertArrayEquals(new double[] {3}, Npy.read(put("x.npy", f)).toDoubleArray());
    }

    private NsaArgumentException readFails(Path p, DType expected) {
        return assertThrows(NsaArgumentException.class, () -> Npy.read(p, expected));
    }

    @Test
    void missingFile() throws IOException {
        NsaArgumentException e = readFails(dir.resolve("q.npy"), DType.FP32);
        assertEquals(dir.resolve("q.npy").toString(), e.subject());
        assertEquals("file exists", e.rule());
        Path d = dir.resolve("k.npy");
        Files.createDirectory(d);
        assertTrue(readFails(d, null).getMessage().contains("a directory, not an .npy file"));
    }

    @Test
    void badMagic() throws IOException {
        NsaArgumentException e = readFails(put("x.npy", "hello world, not npy".getBytes()), null);
        assertTrue(e.getMessage().contains("not an .npy file"), e.getMessage());
        assertEquals("NumPy .npy magic", e.rule());
        assertEquals("NumPy .npy magic", readFails(put("e.npy", new byte[0]), null).rule());
    }

    @Test
    void unsupportedVersion() throws IOException {
        byte[] f = file(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", le(1f));
        f[6] = 4;
        NsaArgumentException e = readFails(put("x.npy", f), null);
        assertTrue(e.getMessage().contains("unsupported format version 4.0"), e.getMessage());
    }

    @Test
    void fortranOrder() throws IOException {
        byte[] f = file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2), }\n", le(1f, 2f));
        NsaArgumentException e = readFails(put("x.npy", f), null);
        assertEquals("C order (fortran_order False)", e.rule());
    }

    @Test
    void unsupportedDtype() throws IOException {
        byte[] f = file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", new byte[8]);
        Path p = put("k.npy", f);
        NsaArgumentException asked = readFails(p, DType.FP32);
        assertTrue(asked.getMessage().contains("expected float32 ('<f4'), got float64 ('<f8')"),
                asked.getMessage());
        assertTrue(asked.getMessage().startsWith(p.toString()), asked.getMessage());
        NsaArgumentException any = readFails(p, null);
        assertTrue(any.getMessage().contains("unsupported dtype float64 ('<f8')"), any.getMessage());

        byte[] big = file(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", new byte[4]);
        assertTrue(readFails(put("b.npy", big), null).getMessage().contains("big-endian float32"));
        byte[] structured = file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n",
                new byte[4]);
        assertEquals("parsable .npy header", readFails(put("s.npy", structured), null).rule());
    }

    @Test
    void wrongButSupportedDtype() throws IOException {
        Path p = dir.resolve("idx.npy");
        Npy.write(p, HostTensor.ofFloats(new float[] {1}, 1));
        NsaArgumentException e = readFails(p, DType.INT32);
        assertEquals("dtype int32 ('<i4')", e.rule());
        assertTrue(e.getMessage().contains("expected int32 ('<i4'), got float32 ('<f4')"), e.getMessage());
    }

    @Test
    void truncatedData() throws IOException {
        byte[] f = file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", le(1f, 2f));
        NsaArgumentException e = readFails(put("x.npy", f), DType.FP32);
        assertEquals("complete data", e.rule());
        assertTrue(e.getMessage().contains("needs 24 bytes after the header, the file has 8"), e.getMessage());
        byte[] whole = numpyFloat32x2x3();
        assertEquals("complete header", readFails(put("h.npy", Arrays.copyOf(whole, 40)), null).rule());
        assertEquals("complete header", readFails(put("h2.npy", Arrays.copyOf(whole, 9)), null).rule());
    }

    @Test
    void headerParseFailures() throws IOException {
        String[] bad = {
            "{'descr': '<f4', 'fortran_order': False}\n",
            "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }\n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,-2), }\n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}\n",
            "['descr', '<f4']\n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,\n",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }\n",
        };
        for (String h : bad) {
            NsaArgumentException e = readFails(put("x.npy", file(1, h, new byte[16])), null);
            assertTrue(e.rule().contains("header") || e.rule().contains("dimensions"), h + " -> " + e.getMessage());
        }
    }

    @Test
    void bf16IsRefusedWithAHint() {
        HostTensor t = HostTensor.zeros(DType.BF16, 2);
        Path p = dir.resolve("b.npy");
        NsaArgumentException e = assertThrows(NsaArgumentException.class, () -> Npy.write(p, t));
        assertTrue(e.getMessage().contains("to(DType.FP32)"), e.getMessage());
        assertTrue(Files.notExists(p));
    }
}
