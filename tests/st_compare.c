/* st_compare A B REL: two checkpoints hold the same tensors (names, dtypes,
 * shapes); integer ones are equal, and every float32 tensor of the model
 * (the optimizer's momentum, a sum of gradients full of cancellation, is
 * left out) is within REL of B's at the tensor's scale:
 * max |a - b| <= REL * max(1, max |b|). The scale is the tensor's largest
 * magnitude, not each value's, and at least 1: a bias whose gradient is 0
 * but for rounding (one that a batch norm cancels) holds rounding noise
 * only, which no two summation orders agree on. Prints the worst tensor;
 * exit 0 when they agree, 1 when not, 2 on a bad file. The data-parallel
 * test compares runs with it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_safetensors.h"

/* max |a - b| / max(1, max |b|) over n floats. */
static double relative(const float *a, const float *b, size_t n)
{
    double diff = 0, scale = 1;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return diff / scale;
}

static int same_shape(const mc_st_tensor *a, const mc_st_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: st_compare A.safetensors B.safetensors REL\n");
        return 2;
    }
    char err[1024];
    mc_st_file *a = mc_st_open(argv[1], err, sizeof err), *b = a ? mc_st_open(argv[2], err, sizeof err) : NULL;
    if (!a || !b) {
        fprintf(stderr, "error: %s\n", err);
        mc_st_close(a);
        return 2;
    }
    const double tol = atof(argv[3]);
    double worst = 0;
    const char *worst_name = "(none)";
    int bad = mc_st_count(a) != mc_st_count(b);
    if (bad)
        printf("%s holds %d tensors, %s %d\n", argv[1], mc_st_count(a), argv[2], mc_st_count(b));
    for (int i = 0; i < mc_st_count(a) && !bad; i++) {
        const mc_st_tensor *x = mc_st_at(a, i), *y = mc_st_find(b, x->name);
        if (!y || !same_shape(x, y)) {
            printf("%s: missing or shaped differently in %s\n", x->name, argv[2]);
            bad = 1;
        } else if (x->dtype != MC_ST_F32) {
            if (memcmp(x->data, y->data, x->nbytes) != 0) {
                printf("%s: integer tensors differ\n", x->name);
                bad = 1;
            }
        } else if (strncmp(x->name, "optim.", 6) != 0) {
            const double rel = relative(x->data, y->data, x->nbytes / sizeof(float));
            if (!(rel <= tol))
                printf("%s: relative difference %.3g\n", x->name, rel);
            if (rel >= worst)
                worst = rel, worst_name = x->name;
        }
    }
    if (!bad) {
        printf("largest relative difference %.3g (%s), tolerance %g\n", worst, worst_name, tol);
        bad = !(worst <= tol);
    }
    mc_st_close(a);
    mc_st_close(b);
    return bad;
}
