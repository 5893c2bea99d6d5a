package org.seqstream.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtProvider;
import org.junit.jupiter.api.Test;


import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DeviceTest {
    private static final boolean CUDA_BUILD = OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA);
    private final ModelPackage pkg = ModelPackage.load(Shipped.modelsDir().resolve(Shipped.GPT));

    @Test
    void autoRunsOnCpuWhenTheRuntimeHasNoCuda() {
        try (OnnxModel m = OnnxModel.open(pkg, Device.AUTO, 1)) {
            if (!CUDA_BUILD) {
                assertEquals(Device.CPU, m.device());
            } else {
                assertTrue(m.device() == Device.CUDA || m.device() == Device.CPU);
            }
        }
    }

    @Test
    void cudaWithoutTheGpuBuildFailsWithAClearMessage() {
        if (CUDA_BUILD) {
            // The -Pcuda build: the provider is there, so cuda either opens or names the driver problem.
            try (OnnxModel m = OnnxModel.open(pkg, Device.CUDA, 1)) {
                assertEquals(Device.CUDA, m.device());
            } catch (IllegalStateException e) {
                assertTrue(e.getMessage().contains("CUDA execution provider failed"), e.getMessage());
            }
            return;
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> OnnxModel.open(pkg, Device.CUDA, 1));
        assertTrue(e.getMessage().contains("no CUDA execution provider") && e.getMessage().contains("-Pcuda"),
                e.getMessage());
    }

    @Test
    void deviceNamesParseAndUnknownOnesAreRefused() {
        assertEquals(Device.CUDA, Device.parse("CUDA"));
        assertEquals(Device.AUTO, Device.parse(" auto "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        assertTrue(e.getMessage().contains("tpu"));
    }
}
