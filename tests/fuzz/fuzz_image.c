/* libFuzzer harness: the image reader of `predict` (stb_image's PNG, JPEG,
 * PGM/PPM and BMP decoders, then the resize). The first byte picks the model's
 * shape (1 or 3 channels, 4x4 or 28x28), the rest is the file. */
#include <stdint.h>

#include "fuzz_util.h"
#include "mc_image.h"
#include "mc_image_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const int c = data[0] & 1 ? 3 : 1, side = data[0] & 2 ? 28 : 4;
    const char *path = fuzz_write("image", data + 1, size - 1);
    uint8_t out[3 * 28 * 28];
    char err[512];
    /* A few bytes of JPEG can decode to 64 megapixels: legal, and only slow
     * (seconds under ASan, which the fuzzer takes for a hang). The header's
     * checks run on every input; decoding, on those of a quarter megapixel or
     * less (a megapixel took 14 s on a busy machine, past the fuzzer's timeout). */
    int w, h;
    if (mc_pixels_info(path, &w, &h, err, sizeof err) != 0) {
        fuzz_check_message(err);
        return 0;
    }
    if ((long)w * h > 1L << 18)
        return 0;
    if (mc_image_read(path, c, side, side, out, err, sizeof err) != 0)
        fuzz_check_message(err);
    return 0;
}
