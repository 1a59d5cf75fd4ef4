/* Which dataset a directory holds, the per-dataset constants, dispatch to
 * the format readers, and the helpers they share (whole-file reads with
 * optional gunzip, checked allocation, one-line errors). */
#define _XOPEN_SOURCE 700 /* realpath */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "dataset_internal.h"
#include "mc_dataset.h"

/* Indexed by mc_dataset_kind. Single-channel datasets repeat their value in
 * all three slots so that code looping over 3 channels never divides by 0. */
static const mc_dataset_info infos[] = {
    {MC_DS_MNIST, "mnist", 1, 28, 28, 10, {0.1307f, 0.1307f, 0.1307f}, {0.3081f, 0.3081f, 0.3081f}, 128, 300, 1, NULL, 0, 0},
    {MC_DS_FASHION_MNIST, "fashion-mnist", 1, 28, 28, 10, {0.2860f, 0.2860f, 0.2860f},
     {0.3530f, 0.3530f, 0.3530f}, 128, 300, 1, NULL, 0, 0},
    {MC_DS_CIFAR10, "cifar10", 3, 32, 32, 10, {0.4914f, 0.4824f, 0.4467f}, {0.2471f, 0.2435f, 0.2616f}, 128, 300, 1, NULL, 0, 0},
    {MC_DS_CIFAR100, "cifar100", 3, 32, 32, 100, {0.5071f, 0.4867f, 0.4408f}, {0.2675f, 0.2565f, 0.2761f}, 128, 300,
     1, NULL, 0, 0},
    /* The reference normalises STL-10 with CIFAR-10's statistics. */
    {MC_DS_STL10, "stl10", 3, 96, 96, 10, {0.4914f, 0.4824f, 0.4467f}, {0.2471f, 0.2435f, 0.2616f}, 64, 300, 1, NULL, 0, 0},
    {MC_DS_IMAGENET32, "imagenet32", 3, 32, 32, 1000, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}, 128, 50, 0, NULL, 0, 0},
};
#define N_INFOS (sizeof infos / sizeof infos[0])

/* ---- errors and small helpers ------------------------------------------------------------ */

int mc_ds_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* One line, whatever a zlib message or a file name brought in. */
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return -1;
}

int mc_ds_join(char *out, const char *dir, const char *name, char *err, size_t errlen)
{
    size_t dl = strlen(dir);
    /* "dir/" and "dir" both give one slash, so messages show a clean path. */
    const char *sep = (dl > 0 && dir[dl - 1] == '/') ? "" : "/";
    int n = snprintf(out, MC_DS_PATH_MAX, "%s%s%s", dir, sep, name);
    if (n < 0 || n >= MC_DS_PATH_MAX)
        return mc_ds_fail(err, errlen, "%.200s...: path too long", dir);
    return 0;
}

int mc_ds_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mc_ds_file_size(const char *path, uint64_t *size, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return mc_ds_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mc_ds_fail(err, errlen, "%s: not a regular file", path);
    *size = (uint64_t)st.st_size;
    return 0;
}

int mc_ds_read_exact(FILE *f, void *buf, size_t len, const char *path, char *err, size_t errlen)
{
    if (len == 0)
        return 0;
    size_t got = fread(buf, 1, len, f);
    if (got == len)
        return 0;
    if (ferror(f))
        return mc_ds_fail(err, errlen, "%s: read error: %s", path, strerror(errno));
    /* The size was checked beforehand, so the file changed under us. */
    return mc_ds_fail(err, errlen, "%s: file ended early (%zu of %zu bytes read)", path, got, len);
}

uint64_t mc_ds_take(uint64_t available, long limit)
{
    if (limit > 0 && (uint64_t)limit < available)
        return (uint64_t)limit;
    return available;
}

int mc_ds_alloc(mc_dataset *out, const mc_dataset_info *info, uint64_t n, const char *what, char *err,
                size_t errlen)
{
    size_t per = (size_t)info->c * (size_t)info->h * (size_t)info->w;
    if (n == 0)
        return mc_ds_fail(err, errlen, "%s: no records", what);
    /* mc_dataset counts in int: refuse rather than wrap. */
    if (n > INT_MAX || n > SIZE_MAX / per || n > SIZE_MAX / sizeof(int32_t))
        return mc_ds_fail(err, errlen, "%s: %llu records is too many", what, (unsigned long long)n);
    out->images = malloc((size_t)n * per);
    out->labels = malloc((size_t)n * sizeof(int32_t));
    if (!out->images || !out->labels) {
        free(out->images);
        free(out->labels);
        out->images = NULL;
        out->labels = NULL;
        return mc_ds_fail(err, errlen, "%s: out of memory for %llu images", what, (unsigned long long)n);
    }
    out->n = (int)n;
    out->info = info;
    return 0;
}

/* ---- whole files and gunzip -------------------------------------------------------------- */

/* Room for at least one more byte of output; -1 when the size would wrap or
 * memory runs out. */
static int grow(uint8_t **buf, size_t *cap)
{
    if (*cap > SIZE_MAX / 2)
        return -1;
    uint8_t *nb = realloc(*buf, *cap * 2);
    if (!nb)
        return -1;
    *buf = nb;
    *cap *= 2;
    return 0;
}

/* Once the header is in: how far to inflate. -1 when the header announces
 * more than the input can hold. */
static int gunzip_limit(const char *path, size_t inlen, const mc_ds_announce *a,
                        const uint8_t *head, size_t *limit, char *err, size_t errlen)
{
    uint64_t total = a->length(head);
    if (total == 0) { /* not a header the reader takes: its check says why */
        *limit = a->head_len;
        return 0;
    }
    if (total / MC_DS_DEFLATE_MAX_RATIO > inlen) /* a lie, refused before anything is allocated for it */
        return mc_ds_fail(err, errlen,
                          "%s: the header announces %llu bytes, more than %zu compressed bytes can inflate to", path,
                          (unsigned long long)total, inlen);
    *limit = total < SIZE_MAX ? (size_t)total + 1 : SIZE_MAX; /* one more tells a longer stream */
    return 0;
}

/* After a member ends: 1 when another member follows, 0 when the input is
 * done (zero padding, as tape tools write, counts as done), -1 for garbage. */
static int gunzip_next_member(const uint8_t *in, size_t inlen, size_t pos)
{
    if (pos == inlen)
        return 0;
    if (inlen - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b)
        return 1;
    for (size_t i = pos; i < inlen; i++)
        if (in[i] != 0)
            return -1;
    return 0;
}

/* Inflates in into out, at most up to what the announced header says (all
 * of it without one). The buffer starts small and doubles, capped at the
 * limit: the gzip trailer's ISIZE, which anyone can forge, sizes nothing. */
static int gunzip(const char *path, const uint8_t *in, size_t inlen, const mc_ds_announce *a, mc_ds_bytes *out,
                  char *err, size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return mc_ds_fail(err, errlen, "%s: cannot start zlib", path);
    size_t cap = 4096, len = 0, pos = 0, limit = SIZE_MAX;
    int know_limit = !a;
    uint8_t *buf = malloc(cap);
    int rc = -1;
    if (!buf) {
        mc_ds_fail(err, errlen, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (!know_limit && len >= a->head_len) {
            if (gunzip_limit(path, inlen, a, buf, &limit, err, errlen) != 0)
                goto done;
            know_limit = 1;
        }
        if (len >= limit) {
            out->cut = 1;
            break;
        }
        if (len == cap && grow(&buf, &cap) != 0) {
            mc_ds_fail(err, errlen, "%s: out of memory inflating (over %zu bytes)", path, len);
            goto done;
        }
        if (cap > limit)
            cap = limit; /* never write past the limit; the buffer may be bigger */
        /* zlib counts in uInt: feed and drain in pieces it can describe. */
        uInt in_chunk = (uInt)((inlen - pos) < UINT_MAX ? (inlen - pos) : UINT_MAX);
        /* Before the header is in, only the header: its length decides the rest. */
        size_t room = know_limit ? cap - len : a->head_len - len;
        uInt out_chunk = (uInt)(room < UINT_MAX ? room : UINT_MAX);
        zs.next_in = (Bytef *)(uintptr_t)(in + pos); /* zlib's API is not const-correct */
        zs.avail_in = in_chunk;
        zs.next_out = buf + len;
        zs.avail_out = out_chunk;
        int ret = inflate(&zs, Z_NO_FLUSH);
        pos += in_chunk - zs.avail_in;
        len += out_chunk - zs.avail_out;
        if (ret == Z_STREAM_END) {
            int next = gunzip_next_member(in, inlen, pos);
            if (next == 0)
                break;
            if (next < 0) {
                mc_ds_fail(err, errlen, "%s: garbage after the gzip stream at byte %zu", path, pos);
                goto done;
            }
            inflateReset(&zs);
        } else if (ret == Z_BUF_ERROR) {
            /* No progress was possible: with room to write, only because
             * the input ran out before the stream's end. */
            mc_ds_fail(err, errlen, "%s: truncated gzip stream (the compressed data ends early)", path);
            goto done;
        } else if (ret == Z_DATA_ERROR) {
            mc_ds_fail(err, errlen, "%s: corrupt gzip data (%s)", path, zs.msg ? zs.msg : "no detail");
            goto done;
        } else if (ret == Z_MEM_ERROR) {
            mc_ds_fail(err, errlen, "%s: out of memory in zlib", path);
            goto done;
        } else if (ret != Z_OK) {
            mc_ds_fail(err, errlen, "%s: zlib error %d", path, ret);
            goto done;
        }
    }
    out->data = buf;
    out->len = len;
    out->gunzipped = 1;
    buf = NULL;
    rc = 0;
done:
    inflateEnd(&zs);
    free(buf);
    return rc;
}

static int read_all(const char *path, FILE *f, mc_ds_bytes *out, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return mc_ds_fail(err, errlen, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mc_ds_fail(err, errlen, "%s: not a regular file", path);
    uint64_t size = (uint64_t)st.st_size;
    if (size > SIZE_MAX - 1)
        return mc_ds_fail(err, errlen, "%s: too large to read (%llu bytes)", path, (unsigned long long)size);
    uint8_t *buf = malloc((size_t)size + 1);
    if (!buf)
        return mc_ds_fail(err, errlen, "%s: out of memory for %llu bytes", path, (unsigned long long)size);
    if (mc_ds_read_exact(f, buf, (size_t)size, path, err, errlen) != 0) {
        free(buf);
        return -1;
    }
    out->data = buf;
    out->len = (size_t)size;
    out->gunzipped = 0;
    return 0;
}

int mc_ds_read_file(const char *path, int gunzip_it, const mc_ds_announce *announce, mc_ds_bytes *out, char *err,
                    size_t errlen)
{
    out->data = NULL;
    out->len = 0;
    out->gunzipped = 0;
    out->cut = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mc_ds_fail(err, errlen, "%s: %s", path, strerror(errno));
    mc_ds_bytes raw;
    int rc = read_all(path, f, &raw, err, errlen);
    fclose(f);
    if (rc != 0)
        return -1;
    if (!gunzip_it || raw.len < 2 || raw.data[0] != 0x1f || raw.data[1] != 0x8b) {
        *out = raw;
        return 0;
    }
    rc = gunzip(path, raw.data, raw.len, announce, out, err, errlen);
    free(raw.data);
    return rc;
}

/* ---- names and detection ----------------------------------------------------------------- */

/* Compares ignoring case, '-' and '_', so "CIFAR-10" and "fashion_mnist"
 * work as well as the canonical names. */
static int name_matches(const char *given, const char *canon)
{
    for (;;) {
        while (*given == '-' || *given == '_')
            given++;
        while (*canon == '-' || *canon == '_')
            canon++;
        if (!*given || !*canon)
            return !*given && !*canon;
        if (tolower((unsigned char)*given) != tolower((unsigned char)*canon))
            return 0;
        given++;
        canon++;
    }
}

const mc_dataset_info *mc_dataset_info_named(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_INFOS; i++)
        if (name_matches(name, infos[i].name))
            return &infos[i];
    return NULL;
}

static int contains_fashion(const char *s)
{
    static const char word[] = "fashion";
    size_t wl = sizeof word - 1;
    for (; *s; s++) {
        size_t i = 0;
        while (i < wl && s[i] && tolower((unsigned char)s[i]) == word[i])
            i++;
        if (i == wl)
            return 1;
    }
    return 0;
}

/* MNIST and Fashion-MNIST ship identical file names: only the directory's
 * name tells them apart (resolved, so that "." inside it works too). */
static mc_dataset_kind mnist_or_fashion(const char *dir, int *by_real)
{
    *by_real = 0;
    if (contains_fashion(dir))
        return MC_DS_FASHION_MNIST;
    char *real = realpath(dir, NULL);
    int fashion = real && contains_fashion(real);
    free(real);
    *by_real = fashion;
    return fashion ? MC_DS_FASHION_MNIST : MC_DS_MNIST;
}

int mc_dataset_guess_note(const char *dir, const mc_dataset_info *info, char *note, size_t len)
{
    if (info->kind != MC_DS_MNIST && info->kind != MC_DS_FASHION_MNIST)
        return 0;
    int by_real;
    const mc_dataset_kind kind = mnist_or_fashion(dir, &by_real);
    snprintf(note, len, "%s holds IDX files, which MNIST and Fashion-MNIST share: read as %s because %s; "
             "--dataset mnist or --dataset fashion-mnist says which", dir, infos[kind].name,
             kind == MC_DS_MNIST ? "its path does not contain 'fashion'"
             : by_real ? "its resolved path contains 'fashion'" : "its path contains 'fashion'");
    return 1;
}

/* A dataset is present when one of its split's first files is: a partial
 * copy is then detected, and loading names the file that is missing. */
typedef struct ds_marker {
    mc_dataset_kind kind;
    const char *files[4];
} ds_marker;
static const ds_marker markers[] = {
    {MC_DS_MNIST,
     {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"}},
    {MC_DS_CIFAR10, {"data_batch_1.bin", "test_batch.bin", NULL, NULL}},
    {MC_DS_CIFAR100, {"train.bin", "test.bin", NULL, NULL}},
    {MC_DS_STL10, {"train_X.bin", "test_X.bin", NULL, NULL}},
    {MC_DS_IMAGENET32, {"train_data_batch_1.npz", "val_data.npz", NULL, NULL}},
};
#define N_MARKERS (sizeof markers / sizeof markers[0])

/* The first marker file of m present in dir, or NULL. */
static const char *marker_present(const char *dir, const ds_marker *m)
{
    char path[MC_DS_PATH_MAX];
    for (int i = 0; i < 4 && m->files[i]; i++)
        if (mc_ds_join(path, dir, m->files[i], NULL, 0) == 0 && mc_ds_is_file(path))
            return m->files[i];
    return NULL;
}

const mc_dataset_info *mc_dataset_detect(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (!dir || !*dir) {
        mc_ds_fail(err, errlen, "no data directory given");
        return NULL;
    }
    if (stat(dir, &st) != 0) {
        mc_ds_fail(err, errlen, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        mc_ds_fail(err, errlen, "%s: not a directory", dir);
        return NULL;
    }
    const ds_marker *found = NULL;
    const char *found_file = NULL;
    for (size_t i = 0; i < N_MARKERS; i++) {
        const char *file = marker_present(dir, &markers[i]);
        if (!file)
            continue;
        if (found) {
            mc_ds_fail(err, errlen, "%s: holds files of two datasets (%s of %s, %s of %s): say which with --dataset",
                       dir, found_file, infos[found->kind].name, file, infos[markers[i].kind].name);
            return NULL;
        }
        found = &markers[i];
        found_file = file;
    }
    if (!found) {
        mc_ds_fail(err, errlen,
                   "%s: no dataset files found (looked for train-images-idx3-ubyte[.gz], data_batch_1.bin, "
                   "train.bin, train_X.bin, train_data_batch_1.npz and their test counterparts)",
                   dir);
        return NULL;
    }
    if (found->kind == MC_DS_MNIST) {
        int by_real;
        return &infos[mnist_or_fashion(dir, &by_real)];
    }
    return &infos[found->kind];
}

/* ---- loading ----------------------------------------------------------------------------- */

int mc_dataset_load(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                    char *err, size_t errlen)
{
    if (!out)
        return mc_ds_fail(err, errlen, "mc_dataset_load: no output");
    memset(out, 0, sizeof *out);
    if (!info && !(info = mc_dataset_detect(dir, err, errlen)))
        return -1;
    if (!dir || !*dir)
        return mc_ds_fail(err, errlen, "no data directory given");
    if (info->kind == MC_DS_IMAGES) /* made for the model: nothing canonical to match */
        return mc_ds_load_images(dir, info, test, limit, out, err, errlen);
    if ((size_t)info->kind >= N_INFOS)
        return mc_ds_fail(err, errlen, "unknown dataset kind %d", (int)info->kind);
    /* The readers size their buffers from info: a caller's own copy must
     * not disagree with the format its kind names. */
    const mc_dataset_info *canon = &infos[info->kind];
    if (info->c != canon->c || info->h != canon->h || info->w != canon->w || info->classes != canon->classes)
        return mc_ds_fail(err, errlen, "%s: dataset info does not match %s (%dx%dx%d, %d classes)", dir, canon->name,
                          canon->c, canon->h, canon->w, canon->classes);
    int rc;
    switch (info->kind) {
    case MC_DS_MNIST:
    case MC_DS_FASHION_MNIST:
        rc = mc_ds_load_idx(dir, info, test, limit, out, err, errlen);
        break;
    case MC_DS_CIFAR10:
    case MC_DS_CIFAR100:
        rc = mc_ds_load_cifar(dir, info, test, limit, out, err, errlen);
        break;
    case MC_DS_STL10:
        rc = mc_ds_load_stl(dir, info, test, limit, out, err, errlen);
        break;
    case MC_DS_IMAGENET32:
        rc = mc_ds_load_npz(dir, info, test, limit, out, err, errlen);
        break;
    default:
        rc = mc_ds_fail(err, errlen, "unknown dataset kind %d", (int)info->kind);
        break;
    }
    if (rc != 0) {
        mc_dataset_free(out);
        return -1;
    }
    out->info = info;
    return 0;
}

void mc_dataset_free(mc_dataset *d)
{
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    mc_image_set_free(d->set);
    memset(d, 0, sizeof *d);
}
