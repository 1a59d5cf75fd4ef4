/* See mc_image.h. */
#include "mc_image.h"

#include <stdio.h>

#include "mc_image_decode.h"

int mc_image_read(const char *path, int c, int h, int w, uint8_t *out, char *err, size_t errlen)
{
    mc_pixels p;
    if (mc_pixels_decode(path, c, &p, err, errlen) != 0)
        return -1;
    const int rc = mc_pixels_center(&p, w, h, out);
    if (rc != 0)
        snprintf(err, errlen, "%s: out of memory resizing it", path);
    mc_pixels_free(&p);
    return rc;
}
