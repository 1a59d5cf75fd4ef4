/* See mc_image.h. */
#include "mc_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

/* Interleaved pixels -> planar (CHW). */
static void to_planes(const uint8_t *px, int c, long plane, uint8_t *out)
{
    for (long i = 0; i < plane; i++)
        for (int ch = 0; ch < c; ch++)
            out[ch * plane + i] = px[i * c + ch];
}

/* A binary PGM/PPM of exactly c x h x w. */
static int read_pnm(const char *path, int c, int h, int w, uint8_t *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char magic[3] = {0};
    int fw = 0, fh = 0, maxval = 0, rc = -1;
    if (fscanf(f, "%2s %d %d %d", magic, &fw, &fh, &maxval) != 4 || (strcmp(magic, "P5") && strcmp(magic, "P6")) ||
        fgetc(f) == EOF)
        snprintf(err, errlen, "%s: not a binary PGM (P5) or PPM (P6) image", path);
    else if (maxval != 255)
        snprintf(err, errlen, "%s: maximum value %d, expected 255 (8-bit)", path, maxval);
    else if (fw != w || fh != h || (magic[1] == '5' ? 1 : 3) != c)
        snprintf(err, errlen, "%s: %dx%d %s, the model takes %dx%d with %d channel%s", path, fw, fh,
                 magic[1] == '5' ? "gray" : "RGB", w, h, c, c == 1 ? "" : "s");
    else {
        const long plane = (long)w * h;
        uint8_t *px = malloc((size_t)(plane * c));
        if (px && fread(px, 1, (size_t)(plane * c), f) == (size_t)(plane * c)) {
            to_planes(px, c, plane, out);
            rc = 0;
        } else
            snprintf(err, errlen, "%s: truncated: expected %ld bytes of pixels", path, plane * c);
        free(px);
    }
    fclose(f);
    return rc;
}

/* A PNG (any bit depth or color type: libpng converts it to 8-bit gray or
 * RGB, as the model takes) of exactly h x w. */
static int read_png(const char *path, int c, int h, int w, uint8_t *out, char *err, size_t errlen)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        snprintf(err, errlen, "%s: not a readable PNG: %s", path, img.message);
        return -1;
    }
    if ((int)img.width != w || (int)img.height != h || (c != 1 && c != 3)) {
        snprintf(err, errlen, "%s: %ux%u, the model takes %dx%d with %d channels", path, img.width, img.height, w,
                 h, c);
        png_image_free(&img);
        return -1;
    }
    img.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    uint8_t *px = malloc((size_t)PNG_IMAGE_SIZE(img));
    if (!px || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        snprintf(err, errlen, "%s: cannot decode: %s", path, px ? img.message : "out of memory");
        png_image_free(&img);
        free(px);
        return -1;
    }
    to_planes(px, c, (long)w * h, out);
    free(px);
    return 0;
}

int mc_image_read(const char *path, int c, int h, int w, uint8_t *out, char *err, size_t errlen)
{
    unsigned char magic[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got == sizeof magic && png_sig_cmp(magic, 0, sizeof magic) == 0)
        return read_png(path, c, h, w, out, err, errlen);
    return read_pnm(path, c, h, w, out, err, errlen);
}
