/* CIFAR-10 and CIFAR-100, binary release: fixed-size records of label
 * byte(s) then 3072 pixel bytes (R, G, B planes, each 32x32 row-major),
 * which is already our CHW layout. The files are streamed record by record,
 * so a --limit run reads only what it keeps. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"

#define CIFAR_PIXELS 3072
#define CIFAR10_TRAIN_FILES 5
#define CIFAR_MAX_FILES CIFAR10_TRAIN_FILES
#define CIFAR100_COARSE 20

typedef struct cifar_split {
    int nfiles;
    char paths[CIFAR_MAX_FILES][MC_DS_PATH_MAX];
    uint64_t records[CIFAR_MAX_FILES];
    int label_bytes; /* 1, or 2 for CIFAR-100: coarse then fine */
    const char *needs; /* says what a missing file belongs to */
} cifar_split;

static int cifar_paths(const char *dir, const mc_dataset_info *info, int test, cifar_split *s, char *err,
                       size_t errlen)
{
    int c100 = info->kind == MC_DS_CIFAR100;
    s->label_bytes = c100 ? 2 : 1;
    if (c100) {
        s->nfiles = 1;
        s->needs = test ? "expected the CIFAR-100 test split" : "expected the CIFAR-100 training split";
        return mc_ds_join(s->paths[0], dir, test ? "test.bin" : "train.bin", err, errlen);
    }
    if (test) {
        s->nfiles = 1;
        s->needs = "expected the CIFAR-10 test split";
        return mc_ds_join(s->paths[0], dir, "test_batch.bin", err, errlen);
    }
    s->nfiles = CIFAR10_TRAIN_FILES;
    s->needs = "CIFAR-10 training needs data_batch_1.bin .. data_batch_5.bin";
    for (int i = 0; i < CIFAR10_TRAIN_FILES; i++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
        if (mc_ds_join(s->paths[i], dir, name, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* Every file present and a whole number of records, before reading any:
 * a bad fifth batch should not cost the time of reading four good ones. */
static int cifar_sizes(cifar_split *s, uint64_t *total, char *err, size_t errlen)
{
    uint64_t rec = (uint64_t)s->label_bytes + CIFAR_PIXELS;
    *total = 0;
    for (int i = 0; i < s->nfiles; i++)
        if (!mc_ds_is_file(s->paths[i]))
            return mc_ds_fail(err, errlen, "%s: missing (%s)", s->paths[i], s->needs);
    for (int i = 0; i < s->nfiles; i++) {
        uint64_t size;
        if (mc_ds_file_size(s->paths[i], &size, err, errlen) != 0)
            return -1;
        if (size == 0)
            return mc_ds_fail(err, errlen, "%s: empty file", s->paths[i]);
        if (size % rec != 0)
            return mc_ds_fail(err, errlen, "%s: %llu bytes, not a whole number of %llu-byte records", s->paths[i],
                              (unsigned long long)size, (unsigned long long)rec);
        s->records[i] = size / rec;
        *total += s->records[i];
    }
    return 0;
}

/* Reads the first `take` records of one file into images/labels. */
static int cifar_read_file(const cifar_split *s, int fi, const mc_dataset_info *info, uint64_t take,
                           uint8_t *images, int32_t *labels, char *err, size_t errlen)
{
    const char *path = s->paths[fi];
    FILE *f = fopen(path, "rb");
    if (!f)
        return mc_ds_fail(err, errlen, "%s: %s", path, strerror(errno));
    uint8_t head[2];
    int rc = 0;
    for (uint64_t r = 0; r < take && rc == 0; r++) {
        rc = mc_ds_read_exact(f, head, (size_t)s->label_bytes, path, err, errlen);
        if (rc == 0)
            rc = mc_ds_read_exact(f, images + r * CIFAR_PIXELS, CIFAR_PIXELS, path, err, errlen);
        if (rc != 0)
            break;
        if (s->label_bytes == 2 && head[0] >= CIFAR100_COARSE)
            rc = mc_ds_fail(err, errlen, "%s: record %llu has coarse label %u, expected 0..%d", path,
                            (unsigned long long)r, (unsigned)head[0], CIFAR100_COARSE - 1);
        uint8_t label = head[s->label_bytes - 1];
        if (rc == 0 && label >= info->classes)
            rc = mc_ds_fail(err, errlen, "%s: record %llu has label %u, expected 0..%d", path, (unsigned long long)r,
                            (unsigned)label, info->classes - 1);
        labels[r] = label;
    }
    fclose(f);
    return rc;
}

int mc_ds_load_cifar(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                     char *err, size_t errlen)
{
    cifar_split *s = calloc(1, sizeof *s); /* five paths: too big for some stacks */
    if (!s)
        return mc_ds_fail(err, errlen, "%s: out of memory", dir);
    uint64_t total = 0;
    int rc = cifar_paths(dir, info, test, s, err, errlen);
    if (rc == 0)
        rc = cifar_sizes(s, &total, err, errlen);
    uint64_t n = mc_ds_take(total, limit);
    if (rc == 0)
        rc = mc_ds_alloc(out, info, n, s->paths[0], err, errlen);
    uint64_t done = 0;
    for (int i = 0; rc == 0 && i < s->nfiles && done < n; i++) {
        uint64_t take = s->records[i] < n - done ? s->records[i] : n - done;
        rc = cifar_read_file(s, i, info, take, out->images + done * CIFAR_PIXELS, out->labels + done, err, errlen);
        done += take;
    }
    free(s);
    if (rc != 0)
        mc_dataset_free(out);
    return rc;
}
