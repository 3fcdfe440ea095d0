package dev.nsa4j.kernels;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;

import org.junit.jupiter.api.Test;

/**
 * JCuda loads its native library from the resource {@code /lib/libJCudaDriver-<version>-linux-x86_64.so}
 * with {@code LibUtils.class.getResourceAsStream}, which in the named (automatic) module {@code jcuda} looks in
 * that module only. The tests run on the module path with jcuda-natives patched into {@code jcuda}
 * (nsa.test.jcuda.flags in the parent pom); without that every GPU suite would skip as "driver missing" on a
 * GPU host (docs/decisions.md D20). CPU only: finding the resource needs no driver.
 */
class JcudaNativesTest {

    @Test
    void jcudaFindsItsDriverLibrary() throws IOException {
        String name = "/lib/libJCudaDriver-" + jcuda.JCudaVersion.get() + "-linux-x86_64.so";
        try (InputStream in = jcuda.JCudaVersion.class.getResourceAsStream(name)) {
            assertNotNull(in, name + " is not visible to " + jcuda.JCudaVersion.class.getModule()
                    + ": on the module path, patch jcuda-natives into jcuda (--patch-module jcuda=<natives jar>)");
        }
    }
}
