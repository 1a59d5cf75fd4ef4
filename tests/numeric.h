/* Numeric helpers for the kernel tests: seeded random data (a fresh seed
 * each run unless MCGEN_TEST_SEED is set; tests print it on failure), the
 * error measure, and central finite differences in double. */
#ifndef MCGEN_NUMERIC_H
#define MCGEN_NUMERIC_H

#include <stdint.h>

/* The run's seed: MCGEN_TEST_SEED, or drawn from the clock once. */
uint64_t test_seed(void);

typedef struct rng {
    uint64_t s;
} rng;

rng rng_new(uint64_t seed);
double rng_uniform(rng *r, double lo, double hi);

/* Fills n floats with U(lo, hi) and mirrors them into d (if not NULL). */
void fill_uniform(rng *r, float *f, double *d, long n, double lo, double hi);

/* max_i |a_i - b_i| / max(max_i |b_i|, 1e-30): the error relative to the
 * reference's largest magnitude (elements near 0 make per-element ratios
 * meaningless). */
double rel_err(const float *a, const double *b, long n);

/* Central difference of f at *x: (f(x + h) - f(x - h)) / 2h, restoring *x. */
double central_diff(double (*f)(void *ctx), void *ctx, double *x, double h);

#endif
