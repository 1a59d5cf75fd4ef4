/* MNIST and Fashion-MNIST: IDX files (big-endian header, then raw bytes),
 * gzipped as distributed or already unpacked. Plain files win when both
 * are present, since someone unpacked them on purpose. */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"

#define IDX_IMAGES_MAGIC 0x00000803u /* unsigned byte, 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801u /* unsigned byte, 1 dimension */
#define IDX_SIDE 28

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* One IDX file, read and with its header checked. */
typedef struct idx_file {
    char path[MC_DS_PATH_MAX];
    const char *name; /* the file name as found, for messages about the other file */
    char name_buf[64];
    mc_ds_bytes bytes;
    uint32_t count;
} idx_file;

/* Finds name or name.gz in dir. */
static int idx_find(const char *dir, const char *name, const char *what, idx_file *f, char *err, size_t errlen)
{
    if (mc_ds_join(f->path, dir, name, err, errlen) != 0)
        return -1;
    if (mc_ds_is_file(f->path)) {
        snprintf(f->name_buf, sizeof f->name_buf, "%s", name);
        f->name = f->name_buf;
        return 0;
    }
    snprintf(f->name_buf, sizeof f->name_buf, "%s.gz", name);
    if (mc_ds_join(f->path, dir, f->name_buf, err, errlen) != 0)
        return -1;
    if (mc_ds_is_file(f->path)) {
        f->name = f->name_buf;
        return 0;
    }
    mc_ds_join(f->path, dir, name, err, errlen);
    return mc_ds_fail(err, errlen, "%s[.gz]: missing (expected the %s)", f->path, what);
}

/* "N bytes" alone would be misleading for a gzipped file. */
static const char *size_kind(const idx_file *f)
{
    return f->bytes.gunzipped ? " after gunzip" : "";
}

/* What an IDX header announces: the whole file's length, so that a gzipped
 * one is inflated no further (0: not this kind of header). */
static uint64_t idx_images_length(const uint8_t *h)
{
    return be32(h) == IDX_IMAGES_MAGIC ? 16 + (uint64_t)be32(h + 4) * IDX_SIDE * IDX_SIDE : 0;
}
static uint64_t idx_labels_length(const uint8_t *h)
{
    return be32(h) == IDX_LABELS_MAGIC ? 8 + (uint64_t)be32(h + 4) : 0;
}
static const mc_ds_announce idx_images_announce = {16, idx_images_length};
static const mc_ds_announce idx_labels_announce = {8, idx_labels_length};

/* Checks the magic number and that the file holds exactly what its header
 * says: header_len bytes, then count records of record_len bytes. */
static int idx_check(idx_file *f, uint32_t magic, const char *magic_what, size_t header_len, uint32_t record_len,
                     char *err, size_t errlen)
{
    const mc_ds_bytes *b = &f->bytes;
    if (b->len < 4)
        return mc_ds_fail(err, errlen, "%s: %zu bytes%s, too short for an IDX header", f->path, b->len, size_kind(f));
    uint32_t got = be32(b->data);
    if (got != magic)
        return mc_ds_fail(err, errlen, "%s: magic number 0x%08x, expected 0x%08x (%s)", f->path, (unsigned)got,
                          (unsigned)magic, magic_what);
    if (b->len < header_len)
        return mc_ds_fail(err, errlen, "%s: %zu bytes%s, too short for the %zu-byte header of %s", f->path, b->len,
                          size_kind(f), header_len, magic_what);
    f->count = be32(b->data + 4);
    uint64_t expected = (uint64_t)header_len + (uint64_t)f->count * record_len;
    if ((uint64_t)b->len != expected)
        return mc_ds_fail(err, errlen, "%s: %s%zu bytes%s, expected %llu (a %zu-byte header and %u records of %u bytes)",
                          f->path, b->cut ? "more than " : "", b->cut ? b->len - 1 : b->len, size_kind(f),
                          (unsigned long long)expected, header_len,
                          (unsigned)f->count, (unsigned)record_len);
    return 0;
}

static int idx_check_images(idx_file *f, char *err, size_t errlen)
{
    const uint8_t *d = f->bytes.data;
    /* The dimensions come before the size check: "27x28" says more than a
     * byte count. */
    if (f->bytes.len >= 16 && be32(d) == IDX_IMAGES_MAGIC && (be32(d + 8) != IDX_SIDE || be32(d + 12) != IDX_SIDE))
        return mc_ds_fail(err, errlen, "%s: images are %ux%u, expected %dx%d", f->path, (unsigned)be32(d + 8),
                          (unsigned)be32(d + 12), IDX_SIDE, IDX_SIDE);
    return idx_check(f, IDX_IMAGES_MAGIC, "IDX images", 16, IDX_SIDE * IDX_SIDE, err, errlen);
}

static int idx_check_labels(const idx_file *labels, const idx_file *images, int classes, char *err, size_t errlen)
{
    if (labels->count != images->count)
        return mc_ds_fail(err, errlen, "%s: %u labels but %s has %u images", labels->path, (unsigned)labels->count,
                          images->name, (unsigned)images->count);
    const uint8_t *l = labels->bytes.data + 8;
    for (uint32_t i = 0; i < labels->count; i++)
        if (l[i] >= classes)
            return mc_ds_fail(err, errlen, "%s: record %u has label %u, expected 0..%d", labels->path, (unsigned)i,
                              (unsigned)l[i], classes - 1);
    return 0;
}

static int idx_read(const char *dir, const mc_dataset_info *info, int test, idx_file *im, idx_file *lb, char *err,
                    size_t errlen)
{
    const char *split = test ? "test" : "training";
    char what_im[96], what_lb[96];
    snprintf(what_im, sizeof what_im, "%s %s images", info->name, split);
    snprintf(what_lb, sizeof what_lb, "%s %s labels", info->name, split);
    if (idx_find(dir, test ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte", what_im, im, err, errlen) != 0 ||
        idx_find(dir, test ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte", what_lb, lb, err, errlen) != 0)
        return -1;
    if (mc_ds_read_file(im->path, 1, &idx_images_announce, &im->bytes, err, errlen) != 0 || idx_check_images(im, err, errlen) != 0)
        return -1;
    if (mc_ds_read_file(lb->path, 1, &idx_labels_announce, &lb->bytes, err, errlen) != 0 ||
        idx_check(lb, IDX_LABELS_MAGIC, "IDX labels", 8, 1, err, errlen) != 0)
        return -1;
    return idx_check_labels(lb, im, info->classes, err, errlen);
}

int mc_ds_load_idx(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                   char *err, size_t errlen)
{
    idx_file *files = calloc(2, sizeof *files); /* two paths: too big for some stacks */
    if (!files)
        return mc_ds_fail(err, errlen, "%s: out of memory", dir);
    idx_file *im = &files[0], *lb = &files[1];
    int rc = idx_read(dir, info, test, im, lb, err, errlen);
    if (rc == 0) {
        uint64_t n = mc_ds_take(im->count, limit);
        rc = mc_ds_alloc(out, info, n, im->path, err, errlen);
        if (rc == 0) {
            memcpy(out->images, im->bytes.data + 16, (size_t)n * IDX_SIDE * IDX_SIDE);
            for (uint64_t i = 0; i < n; i++)
                out->labels[i] = lb->bytes.data[8 + i];
        }
    }
    free(im->bytes.data);
    free(lb->bytes.data);
    free(files);
    return rc;
}
