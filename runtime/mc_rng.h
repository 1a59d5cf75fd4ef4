/* The classifiers' random numbers: xoshiro256** seeded through splitmix64.
 * Every draw of a run (initial weights, shuffles, crops, flips, dropout
 * masks, shake weights) comes from one such generator, whose 256-bit state
 * goes into checkpoints, so a resumed run draws what an uninterrupted one
 * would have. */
#ifndef MC_RNG_H
#define MC_RNG_H

#include <stdint.h>

typedef struct mc_rng {
    uint64_t s[4];
} mc_rng;

void mc_rng_seed(mc_rng *r, uint64_t seed);
uint64_t mc_rng_u64(mc_rng *r);
/* Uniform in [0, n), without modulo bias; n > 0. */
uint32_t mc_rng_below(mc_rng *r, uint32_t n);
/* Uniform in [0, 1) with 24 random bits (every float of that form equally likely). */
float mc_rng_float(mc_rng *r);
/* Standard normal (Box-Muller, in double). */
double mc_rng_normal(mc_rng *r);

#endif
