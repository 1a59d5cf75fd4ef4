/* libFuzzer harness: the .mcn front end (parse, expand, shape and name
 * checks) on arbitrary text. A failure must be one line naming the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) /* the front end's own limits are far below; keep runs fast */
        return 0;
    arena *a = arena_new();
    char err[1024] = "";
    mc_model *m = mc_load_text(a, "fuzz.mcn", (const char *)data, (long)size, NULL, err, sizeof err);
    if (!m && (strncmp(err, "fuzz.mcn:", 9) != 0 || strchr(err, '\n')))
        abort(); /* an error that is not one line naming the file */
    arena_free(a);
    return 0;
}
