/* The few Criterion macros model_check.c uses, for builds where Criterion
 * is not at hand: tests/neon_check.sh cross-compiles the check for AArch64
 * and runs it under qemu-aarch64. One test, run by main, which prints the
 * closing line "1 passed, 0 failed" (or 0 and 1) as Criterion's runner
 * would count it, and exits non-zero on a failure. */
#ifndef MC_CRITERION_SHIM_H
#define MC_CRITERION_SHIM_H

#include <stdio.h>
#include <stdlib.h>

static int shim_failures;

#define cr_assert(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                            \
        }                                                                       \
    } while (0)
#define cr_expect(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) {                                                          \
            shim_failures++;                                                    \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)
#define cr_expect_eq(a, b, ...) cr_expect((a) == (b), __VA_ARGS__)

#define Test(suite, name, ...)                                                  \
    static void suite##_##name(void);                                           \
    int main(void)                                                              \
    {                                                                           \
        suite##_##name();                                                       \
        printf("%s: %d passed, %d failed\n", #suite "." #name, !shim_failures, !!shim_failures); \
        return shim_failures != 0;                                              \
    }                                                                           \
    static void suite##_##name(void)

#endif
