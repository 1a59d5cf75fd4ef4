/* Images of one's own as a dataset (mc_dataset.set): the files of a split
 * (mc_image_list.h), checked up front; the training split's per-channel
 * mean and std; and each batch cut to the model's input: a random-resized
 * crop and flip for training, the centered view for eval.
 *
 * Memory: every image is first brought to a base size (shorter side at
 * most twice the model's longer side: enough for the crops to take detail
 * from, whatever the camera's resolution). When the split's base images
 * fit in MC_IMAGE_CACHE_BYTES they are kept after their first decode;
 * otherwise each batch decodes its images again. Either way the pixels a
 * batch sees are the same. */
#define _POSIX_C_SOURCE 200809L /* fileno */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "mc_image_decode.h"
#include "mc_image_list.h"
#include "mc_progress.h"

#define MC_IMAGE_CACHE_BYTES (256L << 20)

/* The random-resized crop's range: a crop of 25% to 100% of the image's
 * area, of aspect 3/4 to 4/3 (torchvision's default, 8%, leaves a 3x3
 * patch of a 32x32 image: too little of a small image to tell its class). */
#define CROP_AREA_MIN 0.25
#define CROP_RATIO_MIN (3.0 / 4.0)

struct mc_image_set {
    mc_dataset_info *info; /* its own copy */
    mc_image_list list;
    int side;              /* the base size's bound */
    int *bw, *bh;          /* each image's base size (from its header: crops are drawn without decoding) */
    mc_pixels *cache;      /* base images kept (px NULL: not decoded yet); NULL: decode per batch */
    uint8_t *tmp;          /* one image of the model's input, c x h x w */
};

/* ---- infos of images ------------------------------------------------------------------- */

typedef struct images_info {
    mc_dataset_info info; /* first: the public pointer is this struct's */
    char **names;
} images_info;

mc_dataset_info *mc_dataset_info_images(int c, int h, int w, char **names, int classes)
{
    images_info *ii = calloc(1, sizeof *ii);
    if (!ii) {
        free(names);
        return NULL;
    }
    ii->info = (mc_dataset_info){.kind = MC_DS_IMAGES, .name = "images", .c = c, .h = h, .w = w,
                                 .classes = classes, .batch = 64, .epochs = 30, .augment = 1,
                                 .class_names = names};
    ii->names = names;
    return &ii->info;
}

mc_dataset_info *mc_dataset_info_copy(const mc_dataset_info *info)
{
    size_t bytes = (size_t)info->classes * sizeof(char *);
    for (int k = 0; k < info->classes; k++)
        bytes += strlen(info->class_names[k]) + 1;
    char **names = malloc(bytes);
    if (!names)
        return NULL;
    char *at = (char *)(names + info->classes);
    for (int k = 0; k < info->classes; k++) {
        names[k] = strcpy(at, info->class_names[k]);
        at += strlen(at) + 1;
    }
    mc_dataset_info *copy = mc_dataset_info_images(info->c, info->h, info->w, names, info->classes);
    if (copy) {
        *copy = *info;
        copy->class_names = names; /* the copy's own */
    }
    return copy;
}

void mc_dataset_info_free(const mc_dataset_info *info)
{
    if (!info || info->kind != MC_DS_IMAGES)
        return;
    images_info *ii = (images_info *)(uintptr_t)info; /* made by mc_dataset_info_images, so not const */
    free(ii->names);
    free(ii);
}

/* ---- reading ------------------------------------------------------------------------------ */

void mc_image_set_free(struct mc_image_set *s)
{
    if (!s)
        return;
    for (int i = 0; s->cache && i < s->list.n; i++)
        mc_pixels_free(&s->cache[i]);
    free(s->cache), free(s->bw), free(s->bh), free(s->tmp);
    mc_image_list_free(&s->list);
    mc_dataset_info_free(s->info);
    free(s);
}

/* The base size of a w x h image (what mc_pixels_shrink makes of it). */
static void base_size(int side, int *w, int *h)
{
    const int shorter = *w < *h ? *w : *h;
    if (shorter <= side)
        return;
    *w = *w == shorter ? side : (int)((double)*w * side / shorter + 0.5);
    *h = *h == shorter ? side : (int)((double)*h * side / shorter + 0.5);
}

/* Image i at its base size: the cached one, or decoded into *tmp (freed by
 * the caller). NULL with err. */
static const mc_pixels *base_image(struct mc_image_set *s, int i, mc_pixels *tmp, char *err, size_t errlen)
{
    mc_pixels *p = s->cache ? &s->cache[i] : tmp;
    if (p->px)
        return p;
    if (mc_pixels_decode(s->list.paths[i], s->info->c, p, err, errlen) != 0)
        return NULL;
    if (mc_pixels_shrink(p, s->side) != 0) {
        mc_pixels_free(p);
        mc_ds_fail(err, errlen, "%s: out of memory resizing it", s->list.paths[i]);
        return NULL;
    }
    /* A file rewritten since its header was read would draw crops outside
     * the image. */
    if (p->w != s->bw[i] || p->h != s->bh[i]) {
        mc_pixels_free(p);
        mc_ds_fail(err, errlen, "%s: changed while in use (its size is not what its header said)",
                   s->list.paths[i]);
        return NULL;
    }
    return p;
}

/* Every image's header: the size, and a file that is no image is refused
 * before any work. Returns the bytes of all base images. */
static int read_headers(struct mc_image_set *s, uint64_t *bytes, char *err, size_t errlen)
{
    *bytes = 0;
    for (int i = 0; i < s->list.n; i++) {
        int w, h;
        if (mc_pixels_info(s->list.paths[i], &w, &h, err, errlen) != 0)
            return -1;
        base_size(s->side, &w, &h);
        s->bw[i] = w, s->bh[i] = h;
        *bytes += (uint64_t)w * h * s->info->c;
    }
    return 0;
}

/* One pass over the split's images: every one decoded (a corrupt one is
 * refused now, not in the middle of a run), kept if cached, and with stats
 * the per-channel mean and std accumulated. A progress line: redrawn on a
 * terminal, else one every 30 s (a large folder takes minutes). */
static int first_pass(struct mc_image_set *s, int stats, const char *what, char *err, size_t errlen)
{
    const int c = s->info->c, tty = isatty(fileno(stderr));
    double sum[3] = {0}, sq[3] = {0}, count = 0, last = 0;
    const double start = mc_now();
    for (int i = 0; i < s->list.n; i++) {
        if (tty && (mc_now() - last > 0.2 || i + 1 == s->list.n)) {
            fprintf(stderr, "\r%s: %d/%d images", what, i + 1, s->list.n);
            last = mc_now();
        } else if (!tty && mc_now() - (last ? last : start) >= 30) {
            fprintf(stderr, "%s: %d/%d images\n", what, i, s->list.n);
            last = mc_now();
        }
        mc_pixels tmp = {0};
        const mc_pixels *p = base_image(s, i, &tmp, err, errlen);
        if (!p) {
            if (tty)
                fprintf(stderr, "\r\033[K");
            return -1;
        }
        const long n = (long)p->w * p->h;
        for (int k = 0; stats && k < c; k++) {
            double a = 0, b = 0;
            for (long j = 0; j < n; j++) {
                const double v = p->px[j * c + k] / 255.0;
                a += v, b += v * v;
            }
            sum[k] += a, sq[k] += b;
        }
        count += (double)n;
        mc_pixels_free(&tmp);
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    if (!stats)
        return 0;
    for (int k = 0; k < 3; k++) { /* one channel: its value in all three slots, as the released infos do */
        const int ch = k < c ? k : 0;
        const double mean = sum[ch] / count, var = sq[ch] / count - mean * mean;
        s->info->mean[k] = (float)mean;
        s->info->std[k] = (float)(var > 1e-12 ? sqrt(var) : 1.0); /* a constant channel: scaled by 1 */
    }
    fprintf(stderr, "note: normalization from the %d training images (%.1f s): mean", s->list.n, mc_now() - start);
    for (int k = 0; k < c; k++)
        fprintf(stderr, "%s%.4f", k ? "," : " ", (double)s->info->mean[k]);
    fprintf(stderr, " std");
    for (int k = 0; k < c; k++)
        fprintf(stderr, "%s%.4f", k ? "," : " ", (double)s->info->std[k]);
    fprintf(stderr, " (--mean/--std set them)\n");
    return 0;
}

int mc_ds_load_images(const char *data, const mc_dataset_info *info, int test, long limit, mc_dataset *out,
                      char *err, size_t errlen)
{
    struct mc_image_set *s = calloc(1, sizeof *s);
    if (!s || !(s->info = mc_dataset_info_copy(info))) {
        free(s);
        return mc_ds_fail(err, errlen, "%s: out of memory", data);
    }
    out->set = s;
    s->side = 2 * (info->h > info->w ? info->h : info->w);
    if (mc_images_list(data, info->class_names, info->classes, test, info->val_split, info->split_seed, limit,
                       &s->list, err, errlen) != 0)
        return -1;
    const int n = s->list.n;
    s->bw = malloc((size_t)n * sizeof *s->bw);
    s->bh = malloc((size_t)n * sizeof *s->bh);
    s->tmp = malloc((size_t)info->c * info->h * info->w);
    out->labels = malloc((size_t)n * sizeof *out->labels);
    if (!s->bw || !s->bh || !s->tmp || !out->labels)
        return mc_ds_fail(err, errlen, "%s: out of memory for %d images", data, n);
    memcpy(out->labels, s->list.labels, (size_t)n * sizeof *out->labels);
    out->n = n;
    out->info = s->info;
    uint64_t bytes;
    if (read_headers(s, &bytes, err, errlen) != 0)
        return -1;
    if (bytes <= MC_IMAGE_CACHE_BYTES && !(s->cache = calloc((size_t)n, sizeof *s->cache)))
        return mc_ds_fail(err, errlen, "%s: out of memory", data);
    const int stats = !test && !(info->std[0] > 0);
    /* Decoded now when the statistics need it or the cache keeps it: a
     * split too large for the cache with --mean/--std given is decoded
     * batch by batch only. */
    if ((stats || s->cache) &&
        first_pass(s, stats, stats ? "mean and std of the training images" : "reading the test images", err,
                   errlen) != 0)
        return -1;
    return 0;
}

/* ---- batches ------------------------------------------------------------------------------ */

/* The crop of an image of w x h: (x0, y0, cw, ch) and flip, four draws of
 * r and a flip; the model's aspect aw/ah kept on average. */
static void draw_crop(mc_rng *r, int w, int h, double aspect, double *box, int *flip)
{
    const double area = (double)w * h * (CROP_AREA_MIN + (1 - CROP_AREA_MIN) * mc_rng_float(r));
    const double ratio = aspect * exp(log(CROP_RATIO_MIN) * (1 - 2 * (double)mc_rng_float(r)));
    double cw = sqrt(area * ratio), ch = sqrt(area / ratio);
    if (cw > w)
        cw = w;
    if (ch > h)
        ch = h;
    box[0] = (w - cw) * mc_rng_float(r);
    box[1] = (h - ch) * mc_rng_float(r);
    box[2] = cw, box[3] = ch;
    *flip = (int)mc_rng_below(r, 2);
}

void mc_image_set_fill(const mc_dataset *d, const int64_t *order, int total, int first, int n, int augment,
                       mc_rng *r, float *x, int32_t *labels)
{
    struct mc_image_set *s = d->set;
    const mc_dataset_info *in = s->info;
    const long plane = (long)in->h * in->w;
    for (int b = 0; b < total; b++) {
        const int i = (int)order[b];
        double box[4];
        int flip = 0;
        if (augment) /* drawn for every image of the batch: every rank's generator moves alike */
            draw_crop(r, s->bw[i], s->bh[i], (double)in->w / in->h, box, &flip);
        if (b < first || b >= first + n)
            continue;
        char err[1024];
        mc_pixels tmp = {0};
        const mc_pixels *p = base_image(s, i, &tmp, err, sizeof err);
        const int rc = !p ? -1
                       : augment ? mc_pixels_crop(p, box[0], box[1], box[2], box[3], flip, in->w, in->h, s->tmp)
                                 : mc_pixels_center(p, in->w, in->h, s->tmp);
        if (p && rc != 0)
            snprintf(err, sizeof err, "%s: out of memory cropping it", s->list.paths[i]);
        mc_pixels_free(&tmp);
        if (rc != 0) {
            /* Only a file that changed or broke after it was checked gets
             * here (a split too large for the cache): no batch can be made
             * and the caller has no error path mid-epoch. */
            fprintf(stderr, "error: %s\n", err);
            exit(1);
        }
        float *out = x + (long)(b - first) * in->c * plane;
        for (int c = 0; c < in->c; c++) {
            const float scale = 1.0f / (255.0f * in->std[c]), shift = -in->mean[c] / in->std[c];
            for (long j = 0; j < plane; j++)
                out[c * plane + j] = s->tmp[c * plane + j] * scale + shift;
        }
        labels[b - first] = d->labels[i];
    }
}
