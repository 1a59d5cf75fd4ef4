/* See mc_image_decode.h. This file holds the one copy of stb_image's and
 * stb_image_resize's implementations in the runtime. */
#include "mc_image_decode.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* stb sizes some buffers by what a file claims before reading it (a PNG's
 * IDAT chunk length: up to 1 GB from a 100-byte file). No buffer of a
 * decode that we accept needs more than the largest image's pixels at 4
 * channels of 16 bits: a larger request is refused, and stb reports "out
 * of memory" for the file. */
#define DECODE_MAX_BYTES ((size_t)MC_IMAGE_MAX_PIXELS * 8 + (1u << 20))
static void *capped_realloc(void *p, size_t size)
{
    return size > DECODE_MAX_BYTES ? NULL : realloc(p, size);
}

/* Third-party code, compiled as its authors wrote it: the project's
 * warnings (-Wshadow, -Wmissing-prototypes, ...) are about our code. The
 * static functions of stb's API that we do not call are reported at the
 * end of the file, after any pop: that one is off for the whole file. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wcast-qual"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_MALLOC(size) capped_realloc(NULL, size)
#define STBI_REALLOC(p, size) capped_realloc(p, size)
#define STBI_FREE(p) free(p)
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNM
#define STBI_ONLY_BMP
#define STBI_MAX_DIMENSIONS (1 << 20)
#include <stb/stb_image.h>
#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image_resize.h>
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, what);
    return -1;
}

/* stb's reasons are terse ("bad huffman code"): say what was expected. A
 * reason may quote the file's bytes (an unknown PNG chunk's name): those
 * that are not printable become '?', so the message stays one line. */
static int decode_fail(char *err, size_t errlen, const char *path)
{
    char reason[64], what[256];
    snprintf(reason, sizeof reason, "%s", stbi_failure_reason() ? stbi_failure_reason() : "unknown");
    for (char *p = reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
            *p = '?';
    snprintf(what, sizeof what, "not a readable image (expected PNG, JPEG, PGM/PPM or BMP; the decoder says: %s)",
             reason);
    return fail(err, errlen, path, what);
}

/* stbi_info tries every format and, when all fail, keeps only "unknown
 * image type". For a file whose first bytes name a format, that format's
 * own reason ("too large", "bad IHDR len") says more: asked again here. */
static void format_reason(FILE *f)
{
    static int (*const test[])(stbi__context *) = {stbi__png_test, stbi__jpeg_test, stbi__pnm_test, stbi__bmp_test};
    static int (*const info[])(stbi__context *, int *, int *, int *) = {stbi__png_info, stbi__jpeg_info,
                                                                        stbi__pnm_info, stbi__bmp_info};
    for (size_t i = 0; i < sizeof test / sizeof *test; i++) {
        stbi__context s;
        int x, y, comp;
        rewind(f);
        stbi__start_file(&s, f);
        if (test[i](&s)) { /* the tests rewind the context after a look */
            info[i](&s, &x, &y, &comp);
            return;
        }
    }
    stbi__err("unknown image type", ""); /* not a test's own complaint ("no SOI") */
}

/* What stb's PGM/PPM reader must not be given, checked first: header
 * numbers of ten digits or more, which overflow its int (undefined
 * behaviour), and 16-bit files, whose conversion to 8 bits reads past its
 * buffer in this version of stb_image. NULL when the file is not refused
 * (not a PGM/PPM, or one whose other faults stb's own checks report). */
static const char *pnm_refused(FILE *f)
{
    int ch = fgetc(f), value = 0;
    if (ch != 'P' || ((ch = fgetc(f)) != '5' && ch != '6'))
        return NULL;
    for (int field = 0; field < 3; field++) { /* width, height, maximum value */
        ch = fgetc(f);
        for (;;) { /* whitespace and comments, as stb skips them */
            if (ch == '#')
                while (ch != EOF && ch != '\n' && ch != '\r')
                    ch = fgetc(f);
            else if (isspace(ch))
                ch = fgetc(f);
            else
                break;
        }
        int digits = 0;
        for (value = 0; ch >= '0' && ch <= '9'; ch = fgetc(f)) {
            if (++digits > 9)
                return "a header number of 10 digits or more: too large";
            value = value * 10 + (ch - '0');
        }
        if (!digits)
            return NULL;
    }
    return value > 255 ? "a 16-bit PGM/PPM (maximum value above 255): only 8-bit ones are read" : NULL;
}

/* What stb's JPEG reader must not be given: a Huffman table (in a DHT
 * segment) of more than 256 codes, which this version of stb_image writes
 * past its 257-entry array before any check (found by tests/fuzz under
 * UBSan). stb can read a DHT segment from more places than a well-formed
 * file has (past a corrupt segment's end, after junk it skips), so every
 * FF C4 in the file is read as stb would read a DHT there: tables while
 * the segment's length lasts (bytes past the file's end read as 0), each
 * refused when its counts add up to more than 256. A well-formed JPEG's
 * tables pass. NULL when the file is not refused (not a JPEG, or one whose
 * other faults stb's checks report). */
static const char *jpeg_refused(FILE *f)
{
    if (fgetc(f) != 0xFF || fseek(f, 0, SEEK_END) != 0) /* stb takes FF FF ... D8 for a start of image too */
        return NULL;
    const long size = ftell(f);
    unsigned char *d = size > 0 && size <= (1L << 28) ? malloc((size_t)size) : NULL;
    rewind(f);
    if (!d || fread(d, 1, (size_t)size, f) != (size_t)size) {
        free(d);
        return NULL;
    }
    const char *refused = NULL;
    for (long i = 0; !refused && i + 1 < size; i++) {
        if (d[i] != 0xFF || d[i + 1] != 0xC4)
            continue;
        long p = i + 2;
#define BYTE(at) ((at) < size ? d[at] : 0)
        long left = (BYTE(p) << 8 | BYTE(p + 1)) - 2; /* the length counts itself */
        for (p += 2; left > 0 && !refused;) {
            const int table = BYTE(p);
            if ((table >> 4) > 1 || (table & 15) > 3)
                break; /* stb refuses it: "bad DHT header" */
            long codes = 0;
            for (int bits = 1; bits <= 16; bits++)
                codes += BYTE(p + bits);
            if (codes > 256)
                refused = "a JPEG Huffman table of more than 256 codes: not a valid JPEG";
            p += 17 + codes;
            left -= 17 + codes;
        }
#undef BYTE
    }
    free(d);
    return refused;
}

int mc_pixels_info(const char *path, int *w, int *h, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, path, strerror(errno));
    const char *refused = pnm_refused(f);
    if (!refused) {
        rewind(f);
        refused = jpeg_refused(f);
    }
    if (refused) {
        fclose(f);
        return fail(err, errlen, path, refused);
    }
    rewind(f);
    int comp = 0;
    const int ok = stbi_info_from_file(f, w, h, &comp);
    if (!ok)
        format_reason(f);
    fclose(f);
    if (!ok)
        return decode_fail(err, errlen, path);
    if (*w < 1 || *h < 1 || (long)*w * *h > MC_IMAGE_MAX_PIXELS) {
        char what[128];
        snprintf(what, sizeof what, "%dx%d pixels: too large (more than 2^26 pixels)", *w, *h);
        return fail(err, errlen, path, what);
    }
    return 0;
}

int mc_pixels_decode(const char *path, int c, mc_pixels *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int w, h;
    if (mc_pixels_info(path, &w, &h, err, errlen) != 0) /* the size before the allocation */
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, path, strerror(errno));
    int comp = 0;
    out->px = stbi_load_from_file(f, &out->w, &out->h, &comp, c);
    fclose(f);
    if (!out->px)
        return decode_fail(err, errlen, path);
    out->c = c;
    return 0;
}

void mc_pixels_free(mc_pixels *p)
{
    stbi_image_free(p->px);
    memset(p, 0, sizeof *p);
}

/* Resizes the region [s0, s1) x [t0, t1) (fractions of src's width and
 * height) into dst, w x h interleaved. */
static int resize(const mc_pixels *src, double s0, double t0, double s1, double t1, int w, int h, uint8_t *dst)
{
    return stbir_resize_region(src->px, src->w, src->h, 0, dst, w, h, 0, STBIR_TYPE_UINT8, src->c,
                               STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_EDGE_CLAMP, STBIR_FILTER_DEFAULT,
                               STBIR_FILTER_DEFAULT, STBIR_COLORSPACE_LINEAR, NULL, (float)s0, (float)t0, (float)s1,
                               (float)t1)
               ? 0
               : -1;
}

int mc_pixels_shrink(mc_pixels *p, int side)
{
    const int shorter = p->w < p->h ? p->w : p->h;
    if (shorter <= side)
        return 0;
    const int w = p->w == shorter ? side : (int)((double)p->w * side / shorter + 0.5);
    const int h = p->h == shorter ? side : (int)((double)p->h * side / shorter + 0.5);
    uint8_t *px = malloc((size_t)w * h * p->c);
    if (!px || resize(p, 0, 0, 1, 1, w, h, px) != 0) {
        free(px);
        return -1;
    }
    stbi_image_free(p->px);
    /* From here on the pixels are ours (malloc), which stbi_image_free frees
     * too: it is free() unless STBI_FREE says otherwise, and we do not. */
    p->px = px, p->w = w, p->h = h;
    return 0;
}

int mc_pixels_crop(const mc_pixels *src, double x0, double y0, double cw, double ch, int flip, int w, int h,
                   uint8_t *chw)
{
    const int c = src->c;
    const int whole = x0 == 0 && y0 == 0 && cw == src->w && ch == src->h && w == src->w && h == src->h;
    uint8_t *px = whole ? src->px : malloc((size_t)w * h * c);
    if (!px)
        return -1;
    if (!whole && resize(src, x0 / src->w, y0 / src->h, (x0 + cw) / src->w, (y0 + ch) / src->h, w, h, px) != 0) {
        free(px);
        return -1;
    }
    const long plane = (long)w * h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                chw[k * plane + (long)y * w + x] = px[((long)y * w + (flip ? w - 1 - x : x)) * c + k];
    if (!whole)
        free(px);
    return 0;
}

int mc_pixels_center(const mc_pixels *src, int w, int h, uint8_t *chw)
{
    /* The region of the model's aspect that the image just covers. */
    double cw = src->w, ch = (double)src->w * h / w;
    if (ch > src->h)
        ch = src->h, cw = (double)src->h * w / h;
    return mc_pixels_crop(src, (src->w - cw) / 2, (src->h - ch) / 2, cw, ch, 0, w, h, chw);
}
