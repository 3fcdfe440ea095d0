package dev.nsa4j.fa2;

import dev.nsa4j.kernels.GpuFixture;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;


import org.junit.jupiter.api.Test;

import dev.nsa4j.kernels.internal.KernelImage;

/**
 * The FA-2 image is a resource of this module read by code of dev.nsa4j.kernels
 * ({@code KernelImage.resource(Fa2Module.class, ...)}): on the module path that works only while
 * module-info opens dev.nsa4j.fa2 to dev.nsa4j.kernels (docs/decisions.md D20). CPU only.
 */
class Fa2ModuleTest {

    @Test
    void theImagePackageIsOpenToTheModuleThatReadsIt() {
        Module fa2 = Fa2Module.class.getModule();
        assumeTrue(fa2.isNamed(), "on the class path resources are not encapsulated");
        assertTrue(fa2.isOpen(Fa2Module.class.getPackageName(), KernelImage.class.getModule()),
                fa2 + " must open " + Fa2Module.class.getPackageName() + " to " + KernelImage.class.getModule()
                        + ", or " + Fa2Module.RESOURCE + " reads as absent");
    }

    @Test
    void imageIsFoundWhenNvccExists() {
        assumeTrue(GpuFixture.nvccPresent(), "nvcc not installed: the FA-2 image is not expected");
        assertTrue(Fa2Module.image().isPresent(), "nvcc is installed but " + Fa2Module.RESOURCE + " was not found");
        assertTrue(Fa2Module.image().orElseThrow().length > 1024);
    }
}
