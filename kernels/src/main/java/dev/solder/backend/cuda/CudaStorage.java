package dev.solder.backend.cuda;

import dev.solder.spi.Storage;

/**
 * Device memory of CUDA tensors: one allocation ({@code CUdeviceptr}) per storage, returned to
 * the device's stream-ordered pool when the last holder releases it. Never the garbage
 * collector's business: scopes and explicit {@code close()} free it.
 */
final class CudaStorage extends Storage {
    private final CudaDevice owner;
    private final long ptr;

    CudaStorage(CudaDevice owner, long bytes) {
        super(owner.device(), bytes);
        this.owner = owner;
        this.ptr = owner.alloc(bytes);
    }

    /** The device address of byte 0. */
    long ptr() {
        return ptr;
    }

    CudaDevice owner() {
        return owner;
    }

    @Override
    protected void free() {
        owner.freeStorage(ptr, bytes());
    }
}
