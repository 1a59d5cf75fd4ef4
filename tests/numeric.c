#include "numeric.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

uint64_t test_seed(void)
{
    static uint64_t seed;
    if (!seed) {
        const char *s = getenv("MCGEN_TEST_SEED");
        seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
        if (!seed)
            seed = 1;
    }
    return seed;
}

rng rng_new(uint64_t seed)
{
    rng r = {seed * 0x9e3779b97f4a7c15u + 0x632be59bd9b4e019u};
    return r.s ? r : (rng){1};
}

double rng_uniform(rng *r, double lo, double hi)
{
    r->s ^= r->s >> 12; /* xorshift64* */
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    uint64_t v = r->s * 2685821657736338717u;
    return lo + (hi - lo) * (double)(v >> 11) * (1.0 / 9007199254740992.0);
}

void fill_uniform(rng *r, float *f, double *d, long n, double lo, double hi)
{
    for (long i = 0; i < n; i++) {
        f[i] = (float)rng_uniform(r, lo, hi);
        if (d)
            d[i] = f[i];
    }
}

double rel_err(const float *a, const double *b, long n)
{
    double err = 0, scale = 1e-30;
    for (long i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        err = e > err ? e : err;
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    }
    return err / scale;
}

double central_diff(double (*f)(void *ctx), void *ctx, double *x, double h)
{
    double x0 = *x;
    *x = x0 + h;
    double up = f(ctx);
    *x = x0 - h;
    double down = f(ctx);
    *x = x0;
    return (up - down) / (2 * h);
}
