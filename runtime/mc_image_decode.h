/* Image files to pixels, and pixels to a model's input: every image the
 * classifiers read (predict's files, folders and lists of training images)
 * goes through here, so that training, eval and predict see an image the
 * same way. Decoding is Debian's stb_image (PNG, JPEG, PGM/PPM with
 * comments, BMP; 16-bit files are brought to 8 bits); resizing is
 * stb_image_resize (Mitchell filter when shrinking, Catmull-Rom when
 * enlarging, on the byte values as torchvision resizes them). */
#ifndef MC_IMAGE_DECODE_H
#define MC_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* An image in memory: h rows of w pixels of c interleaved bytes. */
typedef struct mc_pixels {
    int w, h, c;
    uint8_t *px;
} mc_pixels;

/* The largest image accepted, in pixels: 8192 x 8192, a 64-megapixel photo
 * (a header claiming more is refused before anything is allocated for it;
 * decoding one this size takes up to about 1 GB with 16-bit channels). */
#define MC_IMAGE_MAX_PIXELS (1L << 26)

/* The size a file's header announces; 0, or -1 with one line in err naming
 * path and what was expected. */
int mc_pixels_info(const char *path, int *w, int *h, char *err, size_t errlen);
/* Decodes path into c channels (1: gray, 3: RGB; gray is repeated into RGB,
 * RGB is weighted into gray as stb_image does, an alpha channel dropped). */
int mc_pixels_decode(const char *path, int c, mc_pixels *out, char *err, size_t errlen);
void mc_pixels_free(mc_pixels *p);

/* Shrinks p in place so that its shorter side is at most side (the sizes a
 * cache keeps); smaller images are left as they are. 0, or -1 (no memory). */
int mc_pixels_shrink(mc_pixels *p, int side);

/* The region of src at (x0, y0) of cw x ch pixels (fractions allowed),
 * resized to w x h and written as c planes (CHW), mirrored left-right when
 * flip. The whole image at its own size is copied exactly. 0, or -1 (no
 * memory). */
int mc_pixels_crop(const mc_pixels *src, double x0, double y0, double cw, double ch, int flip, int w, int h,
                   uint8_t *chw);
/* The eval view: the largest centered region of the model's aspect ratio,
 * resized to w x h (an image of that size is taken as it is). */
int mc_pixels_center(const mc_pixels *src, int w, int h, uint8_t *chw);

#endif
