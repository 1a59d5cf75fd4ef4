/* STL-10, binary release (labelled splits only): X is N images of 3 planes
 * of 96x96 bytes, each plane stored column-major (MATLAB's order), y is N
 * label bytes 1..10. Planes are transposed to row-major as they are read;
 * a missed transpose would still train, on mirrored-and-rotated images. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"

#define STL_SIDE 96
#define STL_PLANE (STL_SIDE * STL_SIDE)
#define STL_IMAGE (3 * STL_PLANE)

typedef struct stl_files {
    char x[MC_DS_PATH_MAX], y[MC_DS_PATH_MAX];
    uint64_t n;
} stl_files;

static int stl_find(const char *dir, int test, stl_files *s, char *err, size_t errlen)
{
    const char *split = test ? "test" : "training";
    if (mc_ds_join(s->x, dir, test ? "test_X.bin" : "train_X.bin", err, errlen) != 0 ||
        mc_ds_join(s->y, dir, test ? "test_y.bin" : "train_y.bin", err, errlen) != 0)
        return -1;
    if (!mc_ds_is_file(s->x))
        return mc_ds_fail(err, errlen, "%s: missing (expected the STL-10 %s images)", s->x, split);
    if (!mc_ds_is_file(s->y))
        return mc_ds_fail(err, errlen, "%s: missing (expected the STL-10 %s labels)", s->y, split);
    uint64_t xs, ys;
    if (mc_ds_file_size(s->x, &xs, err, errlen) != 0 || mc_ds_file_size(s->y, &ys, err, errlen) != 0)
        return -1;
    if (xs == 0)
        return mc_ds_fail(err, errlen, "%s: empty file", s->x);
    if (xs % STL_IMAGE != 0)
        return mc_ds_fail(err, errlen, "%s: %llu bytes, not a whole number of %d-byte images (3x96x96)", s->x,
                          (unsigned long long)xs, STL_IMAGE);
    s->n = xs / STL_IMAGE;
    if (ys != s->n)
        return mc_ds_fail(err, errlen, "%s: %llu labels but %s has %llu images", s->y, (unsigned long long)ys,
                          test ? "test_X.bin" : "train_X.bin", (unsigned long long)s->n);
    return 0;
}

/* One image: plane p, column x, row y is at src[p][x * 96 + y]. */
static void stl_transpose(const uint8_t *src, uint8_t *dst)
{
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < STL_SIDE; y++)
            for (int x = 0; x < STL_SIDE; x++)
                dst[p * STL_PLANE + y * STL_SIDE + x] = src[p * STL_PLANE + x * STL_SIDE + y];
}

static int stl_read_images(const char *path, uint64_t n, uint8_t *images, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mc_ds_fail(err, errlen, "%s: %s", path, strerror(errno));
    uint8_t *raw = malloc(STL_IMAGE);
    int rc = raw ? 0 : mc_ds_fail(err, errlen, "%s: out of memory", path);
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        rc = mc_ds_read_exact(f, raw, STL_IMAGE, path, err, errlen);
        if (rc == 0)
            stl_transpose(raw, images + i * STL_IMAGE);
    }
    free(raw);
    fclose(f);
    return rc;
}

/* The labels of the first n images, 1..10 on disk. */
static int stl_read_labels(const char *path, uint64_t n, int classes, int32_t *labels, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mc_ds_fail(err, errlen, "%s: %s", path, strerror(errno));
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint8_t b;
        rc = mc_ds_read_exact(f, &b, 1, path, err, errlen);
        if (rc == 0 && (b < 1 || b > classes))
            rc = mc_ds_fail(err, errlen, "%s: record %llu has label %u, expected 1..%d", path, (unsigned long long)i,
                            (unsigned)b, classes);
        labels[i] = (int32_t)b - 1;
    }
    fclose(f);
    return rc;
}

int mc_ds_load_stl(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                   char *err, size_t errlen)
{
    stl_files *s = calloc(1, sizeof *s); /* two paths: too big for some stacks */
    if (!s)
        return mc_ds_fail(err, errlen, "%s: out of memory", dir);
    int rc = stl_find(dir, test, s, err, errlen);
    uint64_t n = mc_ds_take(s->n, limit);
    /* Labels first: they are small, and a bad one fails before 200 MB of pixels. */
    if (rc == 0)
        rc = mc_ds_alloc(out, info, n, s->x, err, errlen);
    if (rc == 0)
        rc = stl_read_labels(s->y, n, info->classes, out->labels, err, errlen);
    if (rc == 0)
        rc = stl_read_images(s->x, n, out->images, err, errlen);
    free(s);
    if (rc != 0)
        mc_dataset_free(out);
    return rc;
}
