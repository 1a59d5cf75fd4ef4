/* libFuzzer harness: the safetensors reader (the checkpoint loader's first
 * and only parsing step: mc_checkpoint_load then copies checked tensors).
 * Every tensor it accepts must be readable to its last byte. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "mc_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink; /* the reads below must happen */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("f.safetensors", data, size);
    char err[512];
    mc_st_file *f = mc_st_open(path, err, sizeof err);
    if (!f) {
        fuzz_check_message(err);
        return 0;
    }
    for (int i = 0; i < mc_st_count(f); i++) {
        const mc_st_tensor *t = mc_st_at(f, i);
        if (mc_st_find(f, t->name) != t)
            __builtin_trap();
        for (size_t k = 0; k < t->nbytes; k += 97)
            sink ^= ((const uint8_t *)t->data)[k];
        if (t->nbytes)
            sink ^= ((const uint8_t *)t->data)[t->nbytes - 1];
    }
    (void)mc_st_metadata(f, "dataset");
    mc_st_close(f);
    return 0;
}
