/* xoshiro256** (Blackman and Vigna, 2018): fast, 256 bits of state, passes
 * BigCrush; splitmix64 spreads a 64-bit seed over that state. */
#include "mc_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mc_rng_seed(mc_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mc_rng_u64(mc_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Lemire's multiply-and-reject: unbiased, rarely more than one draw. */
uint32_t mc_rng_below(mc_rng *r, uint32_t n)
{
    uint64_t m = (mc_rng_u64(r) >> 32) * n;
    if ((uint32_t)m < n) {
        const uint32_t threshold = (uint32_t)-n % n;
        while ((uint32_t)m < threshold)
            m = (mc_rng_u64(r) >> 32) * n;
    }
    return (uint32_t)(m >> 32);
}

float mc_rng_float(mc_rng *r) { return (float)(mc_rng_u64(r) >> 40) * 0x1.0p-24f; }

double mc_rng_normal(mc_rng *r)
{
    /* 1 - u lies in (0, 1], so the logarithm is finite. */
    const double u = 1.0 - (double)(mc_rng_u64(r) >> 11) * 0x1.0p-53, v = (double)(mc_rng_u64(r) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}
