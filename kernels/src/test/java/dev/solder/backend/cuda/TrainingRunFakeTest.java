package dev.solder.backend.cuda;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The training comparison on the Java model of the GPU (a shorter run). */
class TrainingRunFakeTest extends TrainingRunSuite {
    private static AutoCloseable restore;

    @BeforeAll
    static void installFakeDevice() {
        restore = CudaDevice.useFactory(ordinal -> new FakeDeviceApi());
    }

    @AfterAll
    static void removeFakeDevice() throws Exception {
        restore.close();
    }

    @Override
    int steps() {
        return Integer.getInteger("solder.test.fakeTrainingSteps", 60);
    }
}
