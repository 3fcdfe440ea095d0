package dev.nsa4j.kernels.op;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.nsa4j.kernels.DeviceTensor;
import dev.nsa4j.tensor.DType;
import dev.nsa4j.tensor.Shape;
import org.junit.jupiter.api.Test;

/** Workspace slices and the plan's sequences, without a GPU. */
class WorkspaceTest {
    @Test
    void slicesStayInsideAndAlign() {
        assertEquals(256, Workspace.aligned(1));
        assertEquals(512, Workspace.aligned(257));
        assertEquals(0, Workspace.aligned(0));
        Workspace w = new Workspace(1 << 20, 4096);
        Workspace s = w.slice(1024, 1024);
        assertEquals((1 << 20) + 1024, s.address());
        assertEquals(0, w.slice(4096, 0).bytes());
        assertThrows(IllegalArgumentException.class, () -> w.slice(4000, 200));
        assertThrows(IllegalArgumentException.class, () -> new Workspace(0, -1));
        DeviceTensor t = s.tensor(DType.FP32, 16, 16);
        assertArrayEquals(new int[] {16, 16}, t.shape().dims());
        assertThrows(IllegalArgumentException.class, () -> s.tensor(DType.FP32, 16, 17));
    }

    @Test
    void sequencesKeepTheirHostCopy() {
        int[] cu = {0, 3, 3, 10};
        Sequences q = new Sequences(cu, DeviceTensor.wrap(256, DType.INT32, Shape.of(4)));
        cu[1] = 99;   // the record copied it
        assertArrayEquals(new int[] {0, 3, 3, 10}, q.cu());
        assertEquals(3, q.batch());
        assertEquals(10, q.total());
        assertEquals(7, q.maxLen());
    }
}
