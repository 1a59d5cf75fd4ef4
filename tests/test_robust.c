/* Hostile input through the parser and the graph stage, built with
 * AddressSanitizer and UBSan: every truncation of each zoo file and seeded
 * random mutations of it must load or fail cleanly, with no crash, no
 * leak, no undefined behaviour and no hang (expansion is bounded).
 * MCGEN_FUZZ_SEED and MCGEN_FUZZ_MUTATIONS change the seed and the count. */
#include <criterion/criterion.h>
#include <sanitizer/lsan_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "graph.h"
#include "testutil.h"

/* xorshift64*: the same stream on every machine for a given seed. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}
static long below(long n) { return (long)(rnd() % (uint64_t)n); }

/* Loads one candidate text; it may fail, but must return and say why. The
 * text goes in a buffer of exactly its length, not NUL-terminated, so that
 * ASan catches any read past its end. */
static void try_load(const char *text, long len)
{
    arena *a = arena_new();
    char err[1024] = "";
    char *exact = malloc(len ? (size_t)len : 1);
    memcpy(exact, text, (size_t)len);
    mc_model *m = mc_load_text(a, "fuzz.mcn", exact, len, NULL, err, sizeof err);
    free(exact);
    if (!m)
        cr_assert(strncmp(err, "fuzz.mcn:", 9) == 0 && !strchr(err, '\n'), "bad error line: %s", err);
    arena_free(a);
}

/* Pieces that make mutations reach deep into the grammar. */
static const char *const splices[] = {
    "for i in 1..99999\n", "end\n", "if true\n", "else\n", "block z(a)\n", "z: z 1\n", "{i}", "999999999",
    "[3,5,7]", "[]", "from in", "unused=true", "k=0", "stride=0", ": ", "\x00", "\xff", "let x = x\n", "((((((",
    "relu\n", "convbn 16", "min(", "1e308", "-", "..", "#", "\n",
};

static void mutate(char *buf, long *len, long cap)
{
    int edits = 1 + (int)below(4);
    for (int e = 0; e < edits; e++) {
        long at = *len ? below(*len) : 0;
        switch (below(5)) {
        case 0: /* flip a byte */
            if (*len)
                buf[at] = (char)(rnd() & 0xff);
            break;
        case 1: /* delete a run */ {
            long n = below(16) + 1;
            if (at + n > *len)
                n = *len - at;
            memmove(buf + at, buf + at + n, (size_t)(*len - at - n));
            *len -= n;
            break;
        }
        case 2: /* splice in a piece */ {
            const char *p = splices[below((long)(sizeof splices / sizeof splices[0]))];
            long n = (long)strlen(p) + (p[0] == '\0');
            if (*len + n > cap)
                break;
            memmove(buf + at + n, buf + at, (size_t)(*len - at));
            memcpy(buf + at, p, (size_t)n);
            *len += n;
            break;
        }
        case 3: /* duplicate a run (repeats lines, nests blocks) */ {
            long n = below(200) + 1;
            if (at + n > *len)
                n = *len - at;
            if (*len + n > cap)
                break;
            memmove(buf + at + n, buf + at, (size_t)(*len - at));
            *len += n;
            break;
        }
        default: /* change a digit */
            for (long i = at; i < *len; i++)
                if (buf[i] >= '0' && buf[i] <= '9') {
                    buf[i] = (char)('0' + below(10));
                    break;
                }
        }
    }
}

static void fuzz_model(const char *model)
{
    char path[256];
    snprintf(path, sizeof path, "models/%s.mcn", model);
    long len;
    char *orig = read_text(source_path(path), &len);
    cr_assert(orig, "cannot read %s", path);

    /* The file itself must load. */
    arena *a = arena_new();
    char err[1024];
    cr_assert(mc_load_text(a, path, orig, len, NULL, err, sizeof err), "%s", err);
    arena_free(a);

    for (long n = 0; n <= len; n++) /* every truncation */
        try_load(orig, n);

    const char *s = getenv("MCGEN_FUZZ_SEED"), *c = getenv("MCGEN_FUZZ_MUTATIONS");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 20201107;
    long count = c ? strtol(c, NULL, 0) : 1000;
    rng_state = seed * 0x9e3779b97f4a7c15u + (uint64_t)len;
    if (!rng_state)
        rng_state = 1;
    long cap = 4 * len + 4096;
    char *buf = malloc((size_t)cap);
    for (long i = 0; i < count; i++) {
        long n = len;
        memcpy(buf, orig, (size_t)len);
        mutate(buf, &n, cap);
        cr_log_info("%s: seed %llu, mutation %ld", model, (unsigned long long)seed, i);
        try_load(buf, n);
    }
    free(buf);
    free(orig);
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "leaks (seed %llu)", (unsigned long long)seed);
}

Test(robust, resnet20, .timeout = 300) { fuzz_model("resnet20"); }
Test(robust, resnet50, .timeout = 300) { fuzz_model("resnet50"); }
Test(robust, se_resnet56, .timeout = 300) { fuzz_model("se_resnet56"); }
Test(robust, shakenet26_2x96d, .timeout = 300) { fuzz_model("shakenet26_2x96d"); }
Test(robust, mobilenetv2, .timeout = 300) { fuzz_model("mobilenetv2"); }
