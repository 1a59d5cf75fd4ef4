/* roofline_probe: measure the two numbers of a roofline model on this machine.
 *
 *   cc -O3 -march=native -fopenmp tools/roofline_probe.c -o probe -lm
 *   ./probe [THREADS]        (default: OMP_NUM_THREADS, else all cores)
 *
 * prints one JSON object: {"threads":T,"lanes":L,"chains":N,"peak_gflops":...,"bandwidth_gbs":...}
 *
 * peak_gflops: FP32 fused multiply-add throughput of T threads, each running
 *   NACC independent FMA chains on GNU C vectors of the target's width (no
 *   intrinsics needed): 16 floats where the compiler targets AVX-512, 8 for
 *   AVX2, 4 elsewhere (SSE, NEON), and as many chains as its registers hold
 *   beside the two constants (16 of 32, 12 of 16), enough to hide the FMA
 *   latency (4 cycles x 2 ports = 8 in flight on current x86 cores).
 *   Build it with the target's -march (tools/compare.py does: x86-64-v3 for
 *   mcgen's avx2 target) to measure that target on a CPU that has more.
 * bandwidth_gbs: STREAM triad a[i] = b[i] + s * c[i] over arrays much larger
 *   than the caches, counting 3 arrays x 4 bytes per element (no write-allocate
 *   traffic, as STREAM does), best of several repetitions.
 * The whole run takes about 1-3 seconds.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__AVX512F__)
enum { LANES = 16, NACC = 16 };
#elif defined(__AVX2__) || defined(__AVX__)
enum { LANES = 8, NACC = 12 };
#elif defined(__aarch64__)
enum { LANES = 4, NACC = 16 };
#else
enum { LANES = 4, NACC = 12 };
#endif
typedef float vfloat __attribute__((vector_size(4 * LANES)));

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int thread_count(int argc, char **argv)
{
    if (argc > 1)
        return atoi(argv[1]);
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && atoi(env) > 0)
        return atoi(env);
#ifdef _OPENMP
    return omp_get_num_procs();
#else
    return 1;
#endif
}

/* NACC independent chains acc = acc * m + a, iters times; returns a value that
 * depends on every chain so the compiler cannot drop the work. m and a keep
 * the values bounded (m < 1) and come from the caller so they are not folded. */
static float fma_chains(long iters, float m0, float a0)
{
    vfloat m, a, acc[NACC];
    for (int l = 0; l < LANES; l++)
        m[l] = m0, a[l] = a0;
    for (int i = 0; i < NACC; i++)
        for (int l = 0; l < LANES; l++)
            acc[i][l] = (float)(i + l) * 1e-3f;
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < NACC; i++)
            acc[i] = acc[i] * m + a;
    }
    vfloat s = acc[0];
    for (int i = 1; i < NACC; i++)
        s += acc[i];
    float r = 0;
    for (int l = 0; l < LANES; l++)
        r += s[l];
    return r;
}

/* Best GFLOP/s of T threads running fma_chains at once. */
static double peak_gflops(int threads, float m0, float a0)
{
    const long iters = 20L * 1000 * 1000; /* about 0.1 s per repetition at 3 GHz */
    double best = 0;
    volatile float sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        float sum = 0;
        double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sum)
#endif
        sum += fma_chains(iters, m0, a0);
        double dt = now() - t0;
        sink += sum;
        double gf = 2.0 * NACC * LANES * (double)iters * threads / dt * 1e-9;
        if (gf > best)
            best = gf;
    }
    (void)sink;
    return best;
}

/* Best triad GB/s of T threads over 3 arrays of n floats each. */
static double triad_gbs(int threads, long n, float s)
{
    (void)threads; /* unused without OpenMP */
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "roofline_probe: cannot allocate %ld MB\n", 3 * n * 4 >> 20);
        exit(1);
    }
    /* first touch from the same threads and schedule as the timed loop, so the
     * pages sit on the memory node of the thread that streams them */
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (long i = 0; i < n; i++)
        a[i] = 0, b[i] = 1, c[i] = 2;
    double best = 0;
    for (int rep = 0; rep < 10; rep++) {
        double t0 = now();
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (long i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        double dt = now() - t0;
        double gbs = 3.0 * sizeof(float) * (double)n / dt * 1e-9;
        if (gbs > best)
            best = gbs;
    }
    volatile float sink = a[n / 2];
    (void)sink;
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv)
{
    int threads = thread_count(argc, argv);
    if (threads < 1) {
        fprintf(stderr, "usage: %s [THREADS]  (THREADS >= 1)\n", argv[0]);
        return 2;
    }
#ifndef _OPENMP
    if (threads > 1)
        fprintf(stderr, "roofline_probe: built without OpenMP, measuring 1 thread\n");
    threads = 1;
#endif
    /* argc-dependent constants keep the compiler from evaluating the chains */
    float m0 = 0.9999f + 1e-9f * argc, a0 = 1e-4f;
    double gflops = peak_gflops(threads, m0, a0);
    /* 3 x 64 MiB: far beyond any L3 of a 2-socket server of today */
    double gbs = triad_gbs(threads, 16L << 20, 3.0f - 1e-9f * argc);
    printf("{\"threads\":%d,\"lanes\":%d,\"chains\":%d,\"peak_gflops\":%.1f,\"bandwidth_gbs\":%.2f}\n", threads, LANES, NACC,
           gflops, gbs);
    return 0;
}
