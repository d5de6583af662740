package dev.solder.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.solder.DType;
import dev.solder.Philox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks that need no GPU: the Java launch sites and the CUDA sources agree (names, parameter
 * lists, constants), the NVRTC unit is self-contained, and the header's bit-level helpers
 * (Philox, bfloat16 rounding) compute what the Java reference computes.
 */
class KernelSourcesTest {

    @Test
    void everyKernelJavaLaunchesIsDeclaredWithTheSameParameters() {
        Map<String, String> declared = CudaSourceFiles.declaredKernels();
        List<String> problems = new ArrayList<>();
        for (Kernel k : Kernel.values()) {
            String params = declared.get(k.cName());
            if (params == null) {
                problems.add(k.cName() + " is launched from Java but declared in no .cu file");
            } else if (!params.equals(CudaSourceFiles.normalize(k.params()))) {
                problems.add(k.cName() + ":\n  .cu : " + params + "\n  Java: " + CudaSourceFiles.normalize(k.params()));
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void everyDeclaredKernelIsKnownToJava() {
        TreeSet<String> unknown = new TreeSet<>(CudaSourceFiles.declaredKernels().keySet());
        for (Kernel k : Kernel.values()) {
            unknown.remove(k.cName());
        }
        assertTrue(unknown.isEmpty(), "kernels with no Kernel constant (dead code or a missing launcher): " + unknown);
    }

    @Test
    void parameterKindsParse() {
        assertEquals(Kernel.ArgKind.PTR, Kernel.kindOf("const void*"));
        assertEquals(Kernel.ArgKind.PTR, Kernel.kindOf("double*"));
        assertEquals(Kernel.ArgKind.I32, Kernel.kindOf("int"));
        assertEquals(Kernel.ArgKind.I64, Kernel.kindOf("long long"));
        assertEquals(Kernel.ArgKind.F32, Kernel.kindOf("float"));
        assertEquals(Kernel.ArgKind.F64, Kernel.kindOf("double"));
        for (Kernel k : Kernel.values()) {
            assertEquals(k.params().split(",").length, k.arity(), k.cName());
        }
    }

    @Test
    void resourceListMatchesTheSourceDirectory() {
        assertEquals(CudaSourceFiles.cuFiles(), KernelSources.FILES,
                "KernelSources.FILES must list every .cu file (NVRTC compiles exactly these)");
        for (String f : KernelSources.FILES) {
            assertEquals(CudaSourceFiles.read(f), KernelSources.read(f), f + " on the class path differs from the source");
        }
        assertEquals(CudaSourceFiles.read(KernelSources.HEADER), KernelSources.read(KernelSources.HEADER));
    }

    @Test
    void dtypeCodesMatchTheHeader() {
        String h = KernelSources.HEADER;
        assertEquals(Optional.of("0"), CudaSourceFiles.define(h, "SOLDER_F32"));
        assertEquals(String.valueOf(DeviceTensors.code(DType.FLOAT32)), CudaSourceFiles.define(h, "SOLDER_F32").orElseThrow());
        assertEquals(String.valueOf(DeviceTensors.code(DType.BFLOAT16)), CudaSourceFiles.define(h, "SOLDER_BF16").orElseThrow());
        assertEquals(String.valueOf(DeviceTensors.code(DType.FLOAT16)), CudaSourceFiles.define(h, "SOLDER_F16").orElseThrow());
        assertEquals(String.valueOf(DeviceTensors.code(DType.INT32)), CudaSourceFiles.define(h, "SOLDER_I32").orElseThrow());
        assertEquals(String.valueOf(DeviceTensors.code(DType.INT64)), CudaSourceFiles.define(h, "SOLDER_I64").orElseThrow());
        assertEquals(String.valueOf(DeviceTensors.F64), CudaSourceFiles.define(h, "SOLDER_F64").orElseThrow());
        for (DType t : DType.values()) {
            assertEquals(t.ordinal(), DeviceTensors.code(t), "codes follow DType's ordinals, as the header says");
        }
    }

    @Test
    void modeConstantsMatchTheSources() {
        assertEquals(String.valueOf(CudaNorm.MASK_NONE), CudaSourceFiles.define("softmax.cu", "SOLDER_MASK_NONE").orElseThrow());
        assertEquals(String.valueOf(CudaNorm.MASK_ADDITIVE), CudaSourceFiles.define("softmax.cu", "SOLDER_MASK_ADDITIVE").orElseThrow());
        assertEquals(String.valueOf(CudaNorm.MASK_KEYS), CudaSourceFiles.define("softmax.cu", "SOLDER_MASK_KEYS").orElseThrow());
        assertEquals(String.valueOf(CudaReduce.MODE_SUM), CudaSourceFiles.define("reduce.cu", "SOLDER_REDUCE_SUM").orElseThrow());
        assertEquals(String.valueOf(CudaReduce.MODE_SUMSQ), CudaSourceFiles.define("reduce.cu", "SOLDER_REDUCE_SUMSQ").orElseThrow());
        assertEquals(String.valueOf(CudaReduce.MODE_SQDIFF), CudaSourceFiles.define("reduce.cu", "SOLDER_REDUCE_SQDIFF").orElseThrow());
        assertEquals(String.valueOf(LaunchConfig.EMBEDDING_TILE), CudaSourceFiles.define("embedding.cu", "SOLDER_EMB_TILE").orElseThrow());
    }

    @Test
    void launchShapesMatchWhatTheKernelsAssume() {
        // Column reductions index slice[8][32]; the embedding backward stages ids in a tile of its block size.
        String reduce = CudaSourceFiles.read("reduce.cu");
        assertTrue(reduce.contains("__shared__ double slice[" + LaunchConfig.COLUMN_SLICES + "][" + LaunchConfig.COLUMN_TILE + "]"));
        assertTrue(CudaSourceFiles.read("layernorm.cu").contains("sliceG[" + LaunchConfig.COLUMN_SLICES + "]["
                + LaunchConfig.COLUMN_TILE + "]"));
        assertTrue(reduce.contains("r += 8") && reduce.contains("blockIdx.x * 32"));
    }

    @Test
    void nvrtcUnitIsSelfContained() {
        String unit = KernelSources.unit();
        assertFalse(java.util.regex.Pattern.compile("(?m)^\\s*#\\s*include").matcher(unit).find(),
                "NVRTC gets no include path: every include must be expanded");
        for (Kernel k : Kernel.values()) {
            assertTrue(java.util.regex.Pattern.compile("void\\s+(?:__launch_bounds__\\s*\\([^)]*\\)\\s+)?"
                    + k.cName() + "\\(").matcher(unit).find(), k.cName() + " missing from the NVRTC unit");
        }
        assertEquals(1, unit.split("#define SOLDER_COMMON_CUH", -1).length - 1, "the header is inlined once");
    }

    @Test
    void nvrtcUnitCompilesWithoutAnIncludePath(@TempDir Path dir) throws IOException {
        // No -I: like NVRTC, the unit must compile from its own text. -Werror as in the fatbin build.
        CudaSourceFiles.Result r = nvccOnUnit(dir, "-ptx", "-arch=compute_80", "-o", dir.resolve("unit.ptx").toString());
        assertEquals(0, r.code(), "nvcc on the NVRTC unit failed:\n" + r.output());
        String ptx = Files.readString(dir.resolve("unit.ptx"));
        for (Kernel k : Kernel.values()) {
            assertTrue(ptx.contains(".entry " + k.cName() + "("), k.cName() + " not in the PTX");
        }
    }

    /**
     * The fatbin has cubins for 8.0 and up; on a 7.5 GPU (T4, RTX 20xx: the oldest CUDA 13's NVRTC
     * compiles for) NVRTC compiles the whole unit, so an instruction 7.5 lacks anywhere in it
     * (cp.async, mma.sync with bf16) takes every kernel down there, even those that never run.
     * ptxas for sm_75 must accept the unit; the flash kernels trap on that GPU and are never
     * selected on it.
     */
    @Test
    void nvrtcUnitAssemblesForTheOldestGpuNvrtcTargets(@TempDir Path dir) throws IOException {
        CudaSourceFiles.Result r = nvccOnUnit(dir, "-cubin", "-arch=sm_75", "-o", dir.resolve("unit.cubin").toString());
        assertEquals(0, r.code(), "nvcc -arch=sm_75 on the NVRTC unit failed:\n" + r.output());
    }

    /**
     * nvcc with {@code args} on the NVRTC unit written to {@code dir} (C++17, warnings as errors,
     * no include path); skips the test where there is no nvcc.
     */
    private static CudaSourceFiles.Result nvccOnUnit(Path dir, String... args) throws IOException {
        Optional<Path> nvcc = CudaSourceFiles.nvcc();
        assumeTrue(nvcc.isPresent(), "nvcc not found: cannot compile the NVRTC unit here");
        Path unit = dir.resolve("unit.cu");
        Files.writeString(unit, KernelSources.unit());
        List<String> cmd = new java.util.ArrayList<>(List.of(nvcc.get().toString(), "-std=c++17", "--Werror",
                "all-warnings"));
        cmd.addAll(List.of(args));
        cmd.add(unit.toString());
        return CudaSourceFiles.exec(dir, null, cmd);
    }

    /**
     * Compiles solder_common.cuh for the host (g++, with the few CUDA intrinsics it uses
     * replaced by portable equivalents) and checks Philox, the dropout rule and float32 ->
     * bfloat16 rounding against dev.solder.Philox and DType.floatToBf16 on random inputs.
     */
    @Test
    void headerHelpersMatchTheJavaReferenceOnTheHost(@TempDir Path dir) throws IOException {
        Optional<Path> gxx = CudaSourceFiles.onPath("g++");
        assumeTrue(gxx.isPresent(), "g++ not found: cannot run the header's helpers on the host");
        String harness = """
                #include <cstdio>
                #include <cstring>
                #include <cmath>
                #define __device__
                #define __forceinline__ inline
                #define __global__
                #define asm(...)
                struct SolderDim3 { unsigned x, y, z; };
                static SolderDim3 threadIdx, blockIdx, blockDim, gridDim;
                static inline unsigned __umulhi(unsigned a, unsigned b) {
                    return (unsigned)(((unsigned long long)a * b) >> 32);
                }
                static inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
                static inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
                static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
                template <class T> static inline T __shfl_xor_sync(unsigned, T v, int) { return v; }
                static inline void __syncthreads() {}
                #include "solder_common.cuh"
                int main() {
                    char op[8];
                    while (std::scanf("%7s", op) == 1) {
                        if (op[0] == 'p') {
                            unsigned long long seed, index; float p;
                            std::scanf("%llu %llu %f", &seed, &index, &p);
                            std::printf("%u %d\\n", solder_philox_bits(seed, index), solder_dropout_keep(seed, index, p) ? 1 : 0);
                        } else {
                            unsigned bits;
                            std::scanf("%u", &bits);
                            std::printf("%u\\n", (unsigned)solder_f32_to_bf16(__uint_as_float(bits)));
                        }
                    }
                    return 0;
                }
                """;
        Path src = dir.resolve("harness.cpp");
        Files.writeString(src, harness);
        Path exe = dir.resolve("harness");
        CudaSourceFiles.Result build = CudaSourceFiles.exec(dir, null, List.of(gxx.get().toString(), "-std=c++17", "-O1",
                "-I", CudaSourceFiles.sourceDir().toAbsolutePath().toString(), "-o", exe.toString(), src.toString()));
        assertEquals(0, build.code(), "host build of solder_common.cuh failed:\n" + build.output());

        long seed = Long.getLong("solder.test.seed", System.nanoTime());
        Random rnd = new Random(seed);
        StringBuilder in = new StringBuilder();
        List<long[]> philox = new ArrayList<>();
        List<Integer> floats = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            long s = i < 4 ? new long[] {0, 42, -1, 0x123456789abcdefL}[i] : rnd.nextLong();
            long idx = i % 3 == 0 ? rnd.nextLong() & 0xffffffffffL : rnd.nextInt(1 << 20);
            float p = rnd.nextFloat() * 0.9f;
            philox.add(new long[] {s, idx, Float.floatToRawIntBits(p)});
            in.append("p ").append(Long.toUnsignedString(s)).append(' ').append(Long.toUnsignedString(idx)).append(' ')
                    .append(Float.toString(p)).append('\n');
        }
        int[] special = {0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x7f7fffff, 0x00000001, 0x3f808000, 0x3f818000,
            0x3f80c000, 0x80000000};
        for (int i = 0; i < 2000; i++) {
            int bits = i < special.length ? special[i] : rnd.nextInt();
            floats.add(bits);
            in.append("b ").append(Integer.toUnsignedString(bits)).append('\n');
        }
        CudaSourceFiles.Result run = CudaSourceFiles.exec(dir, in.toString(), List.of(exe.toString()));
        assertEquals(0, run.code(), run.output());
        String[] lines = run.output().split("\n");
        assertEquals(philox.size() + floats.size(), lines.length);
        for (int i = 0; i < philox.size(); i++) {
            long[] c = philox.get(i);
            float p = Float.intBitsToFloat((int) c[2]);
            String[] parts = lines[i].trim().split(" ");
            assertEquals(Integer.toUnsignedString(Philox.bits(c[0], c[1])), parts[0],
                    "Philox bits differ for seed " + c[0] + ", index " + c[1] + " (random seed " + seed + ")");
            assertEquals(Philox.keep(c[0], c[1], p) ? "1" : "0", parts[1],
                    "keep differs for seed " + c[0] + ", index " + c[1] + ", p " + p + " (random seed " + seed + ")");
        }
        for (int i = 0; i < floats.size(); i++) {
            int bits = floats.get(i);
            int want = Short.toUnsignedInt(DType.floatToBf16(Float.intBitsToFloat(bits)));
            assertEquals(Integer.toString(want), lines[philox.size() + i].trim(),
                    "bf16 rounding of 0x" + Integer.toHexString(bits) + " (random seed " + seed + ")");
        }
    }
}
