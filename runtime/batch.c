#include "mc_batch.h"

#include "dataset_internal.h"

enum { PAD = 4 };

/* One image: source pixel (y + dy, x + dx), mirrored when flip, 0 where
 * that falls in the padding (a zero byte, normalized like any other). */
static void fill_one(const mc_dataset *d, const uint8_t *img, int dy, int dx, int flip, float *x)
{
    const mc_dataset_info *in = d->info;
    const int h = in->h, w = in->w;
    for (int c = 0; c < in->c; c++) {
        const float scale = 1.0f / (255.0f * in->std[c]), shift = -in->mean[c] / in->std[c];
        const uint8_t *plane = img + (long)c * h * w;
        float *out = x + (long)c * h * w;
        for (int y = 0; y < h; y++) {
            const int sy = y + dy;
            for (int xx = 0; xx < w; xx++) {
                const int sx = (flip ? w - 1 - xx : xx) + dx;
                const int inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
                out[y * w + xx] = (inside ? plane[sy * w + sx] : 0) * scale + shift;
            }
        }
    }
}

void mc_batch_fill_part(const mc_dataset *d, const int64_t *order, int total, int first, int n, int augment,
                        mc_rng *r, float *x, int32_t *labels)
{
    if (d->set) { /* images of one's own: their own crops */
        mc_image_set_fill(d, order, total, first, n, augment, r, x, labels);
        return;
    }
    const mc_dataset_info *in = d->info;
    const long per_image = (long)in->c * in->h * in->w;
    for (int b = 0; b < total; b++) {
        int dy = 0, dx = 0, flip = 0;
        if (augment) {
            /* A crop at (i, j) of the padded image reads source pixel
             * (y + i - PAD, x + j - PAD); the flip mirrors the crop. */
            dy = (int)mc_rng_below(r, 2 * PAD + 1) - PAD;
            dx = (int)mc_rng_below(r, 2 * PAD + 1) - PAD;
            flip = (int)mc_rng_below(r, 2);
        }
        if (b < first || b >= first + n)
            continue;
        fill_one(d, d->images + order[b] * per_image, dy, dx, flip, x + (b - first) * per_image);
        labels[b - first] = d->labels[order[b]];
    }
}

void mc_batch_fill(const mc_dataset *d, const int64_t *order, int n, int augment, mc_rng *r, float *x,
                   int32_t *labels)
{
    mc_batch_fill_part(d, order, n, 0, n, augment, r, x, labels);
}

void mc_shuffle(int64_t *order, int64_t n, mc_rng *r)
{
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = mc_rng_below(r, (uint32_t)(i + 1)); /* datasets hold < 2^32 images */
        const int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
