/* Private to runtime/dataset*.c: the helpers the format readers share and
 * the readers themselves, which dataset.c dispatches to. Kept out of
 * mc_dataset.h so that the public API stays the six declarations there. */
#ifndef MC_DATASET_INTERNAL_H
#define MC_DATASET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mc_dataset.h"
#include "mc_rng.h"

/* Long enough for any sane --data path; longer ones are an error, not a
 * truncated name that opens the wrong file. */
#define MC_DS_PATH_MAX 4096

#if defined(__GNUC__) || defined(__clang__)
#define MC_DS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MC_DS_PRINTF(f, a)
#endif

/* Writes one line into err (NULL or 0-sized: nothing); always returns -1 so
 * that a reader can `return mc_ds_fail(...)`. */
int mc_ds_fail(char *err, size_t errlen, const char *fmt, ...) MC_DS_PRINTF(3, 4);

/* dir + "/" + name into out; -1 with err when it does not fit. */
int mc_ds_join(char *out, const char *dir, const char *name, char *err, size_t errlen);
/* 1 when path names a regular file (following links). */
int mc_ds_is_file(const char *path);
/* The size of a regular file, or -1 with err. */
int mc_ds_file_size(const char *path, uint64_t *size, char *err, size_t errlen);

/* What a file's first head_len bytes say its whole length is (0 when they
 * are not a header the reader takes: its own check then says why). */
typedef struct mc_ds_announce {
    size_t head_len;
    uint64_t (*length)(const uint8_t *head);
} mc_ds_announce;

/* A whole file in memory. With gunzip, content starting with the gzip magic
 * is inflated (every member; a truncated or corrupt stream is an error), and
 * anything else is returned as is: the content, not the name, decides. A
 * compressed file is inflated only as far as its header announces (plus one
 * byte, to tell a longer stream), so a small file that inflates to
 * gigabytes costs what its header claims, never the gzip trailer's ISIZE. */
/* Deflate's best case: 258 bytes from a 2-bit code, about 1032:1. A size
 * claimed beyond that for a compressed stream is a lie. */
#define MC_DS_DEFLATE_MAX_RATIO 1032

typedef struct mc_ds_bytes {
    uint8_t *data;
    size_t len;
    int gunzipped; /* so that size messages can say which size they mean */
    int cut;       /* inflating stopped there: the stream is longer than len */
} mc_ds_bytes;
int mc_ds_read_file(const char *path, int gunzip, const mc_ds_announce *announce, mc_ds_bytes *out, char *err,
                    size_t errlen);
/* Reads exactly len bytes at the file's current position; a short read is
 * an error naming path. */
int mc_ds_read_exact(FILE *f, void *buf, size_t len, const char *path, char *err, size_t errlen);

/* Sets out to n records of info's shape (uninitialised); -1 with err on
 * overflow or no memory. what names the file(s) for the message. */
int mc_ds_alloc(mc_dataset *out, const mc_dataset_info *info, uint64_t n, const char *what, char *err,
                size_t errlen);
/* The number of records to keep: all of available, or the first limit. */
uint64_t mc_ds_take(uint64_t available, long limit);

/* The readers: out is zeroed on entry and left zeroed (nothing allocated) on
 * failure. */
int mc_ds_load_idx(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                   char *err, size_t errlen);
int mc_ds_load_cifar(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                     char *err, size_t errlen);
int mc_ds_load_stl(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                   char *err, size_t errlen);
int mc_ds_load_npz(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                   char *err, size_t errlen);
/* Images of one's own (image_set.c): the split's files checked and, when
 * info's std is unset, the training split's mean and std computed. */
int mc_ds_load_images(const char *data, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                      char *err, size_t errlen);
void mc_image_set_free(struct mc_image_set *set);
/* mc_batch_fill_part for a dataset of images (d->set). */
void mc_image_set_fill(const mc_dataset *d, const int64_t *order, int total, int first, int n, int augment,
                       mc_rng *r, float *x, int32_t *labels);

#endif
