/* The images `predict` takes: PNG, or binary PGM (P5) / PPM (P6), of
 * exactly the model's size. Nothing is allocated before the header says
 * the image is that size, so a file claiming gigapixels costs nothing. */
#ifndef MC_IMAGE_H
#define MC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Reads path (by its first bytes: PNG, else PGM/PPM) into out, c planes of
 * h x w bytes (c is 1 or 3). 0, or -1 with one line in err naming path. */
int mc_image_read(const char *path, int c, int h, int w, uint8_t *out, char *err, size_t errlen);

#endif
