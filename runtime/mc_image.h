/* The images `predict` takes: PNG, JPEG, PGM/PPM or BMP of any size,
 * brought to the model's input as eval sees a folder's images (the
 * largest centered region of the model's aspect, resized; gray and RGB
 * converted to the model's channels). Nothing is allocated before the
 * header's size is checked, so a file claiming gigapixels costs nothing. */
#ifndef MC_IMAGE_H
#define MC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Reads path into out, c planes of h x w bytes (c is 1 or 3). 0, or -1
 * with one line in err naming path. */
int mc_image_read(const char *path, int c, int h, int w, uint8_t *out, char *err, size_t errlen);

#endif
