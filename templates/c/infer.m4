m4_divert(-1)
# The inference library (mcgen emit --inference): the model files that
# stand in for model.m4 (which is the training step). Forward only, eval
# mode, no mcgen runtime: MODEL.h is the API, MODEL_kernels.h what the
# kernel files share, MODEL.c the infer function, the loader and the
# tables. The kernel files are the training kernels rendered with
# INFERENCE 1 (common.m4: no backward, scratch from the workspace).
#
# Constants (emit_infer.c): MODEL, UPPER (MODEL in capitals), SOURCE,
# CONV_TYPE, CLASSES, IN_C, IN_H, IN_W, INFER_PARAMS (floats of the folded
# parameters), WS_FLOATS (workspace floats per image), OUTPUT_SLOT (the
# logits), FAMILIES (the kernel files, space separated), EMBEDDED (1: the
# parameters are in MODEL_weights.c), MEAN, STD (lists of IN_C floats),
# CLASS_NAMES (a list of CLASSES C strings or NULL), DATASET (the name the
# checkpoint gives, or nothing), CHECKPOINT (what the weights came from);
# for the predictor BUILD (how it was built).

# No activation bits and no random draws in eval mode: the calls that
# pass them in training (train ? ... : 0) pass nothing.
m4_define(`MC_MASK', `((MC_BITS_TYPE *)0)')
m4_define(`MC_EXTRA', `((float *)0)')
# A batch norm left a layer keeps its running statistics with its gamma
# and beta in the parameters (emit_infer.c, plan_params).
m4_define(`MC_BUF', `MC_PARAM($1)')

# MC_FAMILY_EACH(text): text for each kernel family f.
m4_define(`MC_FAMILY_EACH', `MC_FAMILY_LOOP(`$1', m4_translit(FAMILIES, ` ', `,'))')
m4_define(`MC_FAMILY_LOOP', `m4_ifelse(`$2', `', `',
`m4_pushdef(`f', `$2')$1`'m4_popdef(`f')MC_FAMILY_LOOP(`$1', m4_shift(m4_shift($@)))')')

m4_define(`MC_HEADER_BEGIN',
`MC_GENERATED(SOURCE, `infer')
/* What the kernel files of the MODEL inference library share: their
 * prototypes, the OpenMP macros, and the scratch pointer. Not for the
 * user of the library: MODEL.h is its API. */
#ifndef MC_INFER_`'MODEL`'_KERNELS_H
#define MC_INFER_`'MODEL`'_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Compiled with -fopenmp the kernels split an outer loop over threads
 * (every output written by one thread in a fixed order: the same results
 * on any thread count); without it they run on the calling thread. */
#ifdef _OPENMP
#include <omp.h>
#define MC_OMP_FOR _Pragma("omp parallel for schedule(static)")
/* the same, with a team only when cond holds (enough work to pay for one) */
#define MC_OMP_PRAGMA(x) _Pragma(#x)
#define MC_OMP_FOR_IF(cond) MC_OMP_PRAGMA(omp parallel for schedule(static) if (cond))
#define MC_OMP_PARALLEL _Pragma("omp parallel")
#define MC_OMP_FOR_IN _Pragma("omp for schedule(static)")
/* Fewer images than threads (batch 1 on 2 threads): the kernels that
 * give each thread whole images split the work of each image over the
 * team instead: one parallel region, the steps of an image shared out in
 * turn, MC_OMP_SINGLE a step one thread takes while the others wait. */
#define MC_FEW_IMAGES(n) ((n) < omp_get_max_threads())
#define MC_OMP_SINGLE _Pragma("omp single")
#else
#define MC_OMP_FOR
#define MC_OMP_FOR_IF(cond)
#define MC_OMP_PARALLEL
#define MC_OMP_FOR_IN
#define MC_FEW_IMAGES(n) 0
#define MC_OMP_SINGLE
#endif

/* The scratch of the running call (its workspace past the activations):
 * thread-local, so that threads can infer at once, each in its own
 * workspace. A kernel takes it before its parallel regions. */
extern _Thread_local void *MODEL`'_scratch;

/* The most scratch one kernel of each file takes, in bytes. */
MC_FAMILY_EACH(`size_t MODEL`'_`'f`'_scratch_bytes(void);
')
/* The specialized kernels, one per distinct layer signature. */
')
m4_define(`MC_HEADER_END', `
#endif
')

m4_define(`MC_KERNELS_BEGIN',
`MC_GENERATED(SOURCE, `$1')
#include <math.h>
#include <string.h>

#include "MODEL`'_kernels.h"

/* The kernel templates also hold the training passes; their helpers that
 * only the backward calls are left unused here (and not compiled in). */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
')
m4_define(`MC_KERNELS_END', `
size_t MODEL`'_$1_scratch_bytes(void)
{
    return MC_SCRATCH_MAX;
}
')

# ---- the API -----------------------------------------------------------------
m4_define(`MC_INFER_API',
`MC_GENERATED(SOURCE, `infer')
/* MODEL: a CONV_TYPE image classifier, forward only (eval mode), as one C
 * library: MODEL.c and the MODEL`'_*.c kernels, for the MC_CPU CPU target.
 * It needs a C11 compiler and libm; -fopenmp makes it use threads.
 *
 *   float *params = malloc(UPPER`'_PARAM_FLOATS * sizeof(float));   // or MODEL`'_params
 *   MODEL`'_load("weights.safetensors", params, err, sizeof err);
 *   MODEL`'_net *net = MODEL`'_new(params);
 *   void *ws = malloc(MODEL`'_workspace_bytes(batch));
 *   MODEL`'_infer(net, images, batch, logits, ws);
 *
 * Any number of threads may call MODEL`'_infer on one net at once, each
 * with its own workspace: a net is only read once made. */
#ifndef MC_INFER_`'MODEL`'_H
#define MC_INFER_`'MODEL`'_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The input: batches of IN_C x IN_H x IN_W float images, NCHW, each value
 * (pixel / 255 - MODEL`'_mean[c]) / MODEL`'_std[c]. The output: CLASSES logits
 * per image (the class is the largest; softmax gives probabilities). */
enum { UPPER`'_IN_C = IN_C, UPPER`'_IN_H = IN_H, UPPER`'_IN_W = IN_W, UPPER`'_CLASSES = CLASSES };

/* The floats of the parameters: the weights with the batch norms folded in. */
#define UPPER`'_PARAM_FLOATS INFER_PARAMS

/* From the checkpoint the library was emitted with (--weights), where its
 * metadata had them; otherwise NULL names, mean 0 and std 1. */
extern const char *const MODEL`'_class_names[UPPER`'_CLASSES];
extern const float MODEL`'_mean[UPPER`'_IN_C], MODEL`'_std[UPPER`'_IN_C];
/* The dataset the checkpoint was trained on ("" where it named none). */
extern const char MODEL`'_dataset[];
m4_ifelse(EMBEDDED, 1, `
/* The parameters of CHECKPOINT, folded. */
extern const float MODEL`'_params[UPPER`'_PARAM_FLOATS];
')
/* The bytes of workspace MODEL`'_infer needs for a batch (0 if batch < 1). */
size_t MODEL`'_workspace_bytes(int batch);

/* Reads the parameters from a checkpoint into params (UPPER`'_PARAM_FLOATS
 * floats), folding its batch norms: a safetensors file of the model state_dict
 * (mcgen train writes them; a PyTorch state_dict saved with safetensors
 * works too, "module." prefixes accepted) or the MODEL.bin that mcgen emit
 * --weights writes for large models. Returns 0, or -1 with a one-line
 * message in err. */
int MODEL`'_load(const char *path, float *params, char *err, size_t errlen);

/* A net: the parameters in the layout the kernels read (some filters
 * reordered for the vectors of the MC_CPU target), made once; params may
 * be freed after. NULL when out of memory. */
typedef struct MODEL`'_net MODEL`'_net;
MODEL`'_net *MODEL`'_new(const float *params);
void MODEL`'_free(MODEL`'_net *net);

/* The logits of batch images (batch >= 1) into logits (batch x UPPER`'_CLASSES).
 * workspace: MODEL`'_workspace_bytes(batch) bytes, any alignment. Returns 0,
 * or -1 for a NULL pointer or batch < 1. */
int MODEL`'_infer(const MODEL`'_net *net, const float *images, int batch, float *logits, void *workspace);

#ifdef __cplusplus
}
#endif

#endif
')

# ---- the source ----------------------------------------------------------------
m4_define(`MC_INFER_SOURCE_BEGIN',
`MC_GENERATED(SOURCE, `infer')
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "MODEL.h"
#include "MODEL`'_kernels.h"

_Thread_local void *MODEL`'_scratch;

const char *const MODEL`'_class_names[UPPER`'_CLASSES] = {CLASS_NAMES};
const float MODEL`'_mean[UPPER`'_IN_C] = {MEAN}, MODEL`'_std[UPPER`'_IN_C] = {STD};
const char MODEL`'_dataset[] = DATASET;

/* The workspace: the activations (WS_FLOATS floats per image, slots reused
 * once their readers are done), then the scratch of the largest kernel;
 * 64 bytes to align it. */
static size_t MODEL`'_scratch_bytes(void)
{
    size_t most = 0, b;
MC_FAMILY_EACH(`    if ((b = MODEL`'_`'f`'_scratch_bytes()) > most)
        most = b;
')m4_dnl
    return most;
}

size_t MODEL`'_workspace_bytes(int batch)
{
    if (batch < 1)
        return 0;
    return 64 + (size_t)batch * WS_FLOATS * sizeof(float) + MODEL`'_scratch_bytes();
}
')

# MC_INFER_NET_BEGIN ... MC_INFER_PACK(kernel, at) ... MC_INFER_NET_END: a
# net, its parameters copied and the filters of the kernels named packed.
m4_define(`MC_INFER_NET_BEGIN', `
struct MODEL`'_net {
    float *params; /* UPPER`'_PARAM_FLOATS, 64-byte aligned, inside the same allocation */
};

MODEL`'_net *MODEL`'_new(const float *params)
{
    if (!params)
        return NULL;
    MODEL`'_net *net = malloc(sizeof *net + 64 + sizeof(float) * UPPER`'_PARAM_FLOATS);
    if (!net)
        return NULL;
    net->params = (float *)(((uintptr_t)(net + 1) + 63) & ~(uintptr_t)63);
    memcpy(net->params, params, sizeof(float) * UPPER`'_PARAM_FLOATS);
')
m4_define(`MC_INFER_PACK', `    $1_pack(params + $2, net->params + $2);
')
m4_define(`MC_INFER_NET_END', `    return net;
}

void MODEL`'_free(MODEL`'_net *net)
{
    free(net);
}
')

# MC_INFER_FN_BEGIN ... the calls of each layer ... MC_INFER_FN_END
m4_define(`MC_INFER_FN_BEGIN',
`
int MODEL`'_infer(const MODEL`'_net *net, const float *images, int batch, float *logits, void *workspace)
{
    if (!net || !images || !logits || !workspace || batch < 1)
        return -1;
    const int n = batch, train = 0;
    const float *const par = net->params;
    float *const act = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    void *const outer = MODEL`'_scratch; /* a call from inside a call keeps its own */
    MODEL`'_scratch = act + (size_t)n * WS_FLOATS;
    (void)train, (void)par;
')

# MC_INFER_LAYER(name): a comment before the calls of a layer.
m4_define(`MC_INFER_LAYER', `    /* $1 */
')

m4_define(`MC_INFER_FN_END',
`    memcpy(logits, MC_ACT(OUTPUT_SLOT), sizeof(float) * (size_t)n * CLASSES);
    MODEL`'_scratch = outer;
    return 0;
}
')

# ---- the loader ------------------------------------------------------------------
# MC_INFER_READS_BEGIN ... MC_INFER_READ(name, at, numel) ... MC_INFER_READS_END:
# the checkpoint tensors copied into the parameters as they are.
# MC_INFER_FOLDS_BEGIN ... MC_INFER_FOLD(gamma, beta, mean, var, eps, w, b,
# nseg, channels, blocks) ... MC_INFER_FOLDS_END: the batch norms folded
# into the weights at w and the bias at b (infer_fold.h).
m4_define(`MC_INFER_READS_BEGIN', `
/* The checkpoint tensors the parameters take as they are. */
static const struct MODEL`'_read {
    const char *name;
    long long at, numel;
} MODEL`'_reads[] = {
')
m4_define(`MC_INFER_READ', `    {"$1", $2, $3},
')
m4_define(`MC_INFER_READS_END', `    {NULL, 0, 0},
};
')
m4_define(`MC_INFER_FOLDS_BEGIN', `
/* The batch norms folded into the conv before them: their four tensors,
 * eps, where that conv has its weights and bias, its output channels as
 * runs of channels of equal weight blocks. */
static const struct MODEL`'_fold {
    const char *tensors[4]; /* gamma, beta, running mean, running variance */
    double eps;
    long long w, b;
    int nseg, channels[8];
    long long block[8];
} MODEL`'_folds[] = {
')
m4_define(`MC_INFER_FOLD', `    {{"$1", "$2", "$3", "$4"}, $5, $6, $7, $8, {$9}, {$10}},
')
m4_define(`MC_INFER_FOLDS_END', `    {{NULL, NULL, NULL, NULL}, 0, 0, 0, 0, {0}, {0}},
};
')

m4_define(`MC_INFER_LOADER',
`
m4_include(`infer_fold.h')m4_dnl

/* A checkpoint being read: its safetensors header, parsed just enough to
 * find each tensor: its dtype, element count and data offsets. */
typedef struct MODEL`'_entry {
    const char *name; /* into the header text, not NUL-terminated */
    size_t len;
    int f32;
    long long numel, begin, end;
} MODEL`'_entry;

static int MODEL`'_fail(char *err, size_t errlen, const char *path, const char *what, const char *name)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s%s%s", path, what, name ? " " : "", name ? name : "");
    return -1;
}

static const char *MODEL`'_space(const char *p)
{
    while (*p == 32 || *p == 9 || *p == 10 || *p == 13)
        p++;
    return p;
}

/* Past a JSON string at p (at its opening quote), or NULL. */
static const char *MODEL`'_string_end(const char *p)
{
    for (p++; *p && *p != 34; p++)
        if (*p == 92 && !*++p)
            return NULL;
    return *p ? p + 1 : NULL;
}

/* Past any JSON value at p, or NULL. */
static const char *MODEL`'_skip(const char *p)
{
    int depth = 0;
    do {
        p = MODEL`'_space(p);
        if (*p == 34)
            p = MODEL`'_string_end(p);
        else if (*p == 123 || *p == 91)
            depth++, p++;
        else if (*p == 125 || *p == 93)
            depth--, p++;
        else if (*p == 44 || *p == 58)
            p++;
        else if (*p)
            while (*p && !strchr(",:{}[]\" \t\r\n", *p))
                p++;
        else
            return NULL;
    } while (p && depth > 0);
    return p;
}

/* Reads the integers of a JSON array at p into v (at most max), their count into *count. */
static const char *MODEL`'_ints(const char *p, long long *v, int max, int *count)
{
    *count = 0;
    p = MODEL`'_space(p);
    if (*p++ != 91)
        return NULL;
    for (;;) {
        p = MODEL`'_space(p);
        if (*p == 93)
            return p + 1;
        char *end;
        long long x = strtoll(p, &end, 10);
        if (end == p || *count >= max)
            return NULL;
        v[(*count)++] = x;
        p = MODEL`'_space(end);
        if (*p == 44)
            p++;
    }
}

/* One tensor entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]}. */
static const char *MODEL`'_tensor(const char *p, MODEL`'_entry *t)
{
    p = MODEL`'_space(p);
    if (*p++ != 123)
        return NULL;
    int have = 0;
    t->numel = 1;
    for (;;) {
        p = MODEL`'_space(p);
        if (*p == 125)
            return have == 7 ? p + 1 : NULL;
        if (*p == 44) {
            p++;
            continue;
        }
        const char *key = p;
        if (*p != 34 || !(p = MODEL`'_string_end(p)))
            return NULL;
        p = MODEL`'_space(p);
        if (*p++ != 58)
            return NULL;
        p = MODEL`'_space(p);
        long long v[8];
        int count;
        if (!strncmp(key, "\"dtype\"", 7)) {
            t->f32 = !strncmp(p, "\"F32\"", 5);
            p = MODEL`'_skip(p), have |= 1;
        } else if (!strncmp(key, "\"shape\"", 7)) {
            if (!(p = MODEL`'_ints(p, v, 8, &count)))
                return NULL;
            for (int i = 0; i < count; i++)
                t->numel *= v[i];
            have |= 2;
        } else if (!strncmp(key, "\"data_offsets\"", 14)) {
            if (!(p = MODEL`'_ints(p, v, 2, &count)) || count != 2)
                return NULL;
            t->begin = v[0], t->end = v[1], have |= 4;
        } else
            p = MODEL`'_skip(p);
        if (!p)
            return NULL;
    }
}

/* The entries of the header at h (every key but __metadata__); their count, or -1. */
static int MODEL`'_entries(const char *h, MODEL`'_entry **out)
{
    int count = 0, cap = 0;
    MODEL`'_entry *e = NULL;
    const char *p = MODEL`'_space(h);
    if (*p++ != 123)
        return -1;
    for (;;) {
        p = MODEL`'_space(p);
        if (*p == 125)
            break;
        if (*p == 44) {
            p++;
            continue;
        }
        const char *key = p + 1;
        if (*p != 34 || !(p = MODEL`'_string_end(p)))
            break;
        const size_t len = (size_t)(p - 1 - key);
        p = MODEL`'_space(p);
        if (*p++ != 58)
            break;
        if (len == 12 && !strncmp(key, "__metadata__", 12)) {
            if (!(p = MODEL`'_skip(p)))
                break;
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            MODEL`'_entry *grown = realloc(e, (size_t)cap * sizeof *e);
            if (!grown)
                break;
            e = grown;
        }
        e[count] = (MODEL`'_entry){key, len, 0, 0, 0, 0};
        if (!(p = MODEL`'_tensor(p, &e[count])))
            break;
        count++;
    }
    if (*p != 125) {
        free(e);
        return -1;
    }
    *out = e;
    return count;
}

/* Tensor name (or module.name) of the checkpoint, numel float32 values, into dst. */
static int MODEL`'_tensor_read(FILE *f, long long data, const MODEL`'_entry *e, int count, const char *name,
    long long numel, float *dst, const char *path, char *err, size_t errlen)
{
    const size_t len = strlen(name);
    for (int i = 0; i < count; i++) {
        const int plain = e[i].len == len && !strncmp(e[i].name, name, len);
        const int wrapped = e[i].len == len + 7 && !strncmp(e[i].name, "module.", 7) && !strncmp(e[i].name + 7, name, len);
        if (!plain && !wrapped)
            continue;
        if (!e[i].f32 || e[i].numel != numel || e[i].end - e[i].begin != numel * 4)
            return MODEL`'_fail(err, errlen, path, "has a tensor of another dtype or shape than float32 as the model needs:", name);
        if (fseek(f, (long)(data + e[i].begin), SEEK_SET) != 0 || fread(dst, sizeof(float), (size_t)numel, f) != (size_t)numel)
            return MODEL`'_fail(err, errlen, path, "is shorter than its header says, at", name);
        return 0;
    }
    return MODEL`'_fail(err, errlen, path, "has no tensor", name);
}

/* The MODEL.bin of mcgen emit --weights: "MCGENW01", the float count as 8
 * little-endian bytes, the folded parameters. */
static int MODEL`'_load_bin(FILE *f, float *params, const char *path, char *err, size_t errlen)
{
    unsigned char count[8];
    unsigned long long floats = 0;
    if (fread(count, 1, 8, f) != 8)
        return MODEL`'_fail(err, errlen, path, "is cut short", NULL);
    for (int i = 7; i >= 0; i--)
        floats = floats << 8 | count[i];
    if (floats != (unsigned long long)UPPER`'_PARAM_FLOATS)
        return MODEL`'_fail(err, errlen, path, "holds the parameters of another model", NULL);
    if (fread(params, sizeof(float), UPPER`'_PARAM_FLOATS, f) != UPPER`'_PARAM_FLOATS)
        return MODEL`'_fail(err, errlen, path, "is cut short", NULL);
    return 0;
}

int MODEL`'_load(const char *path, float *params, char *err, size_t errlen)
{
    if (!path || !params)
        return MODEL`'_fail(err, errlen, path ? path : "(null)", "cannot be read: NULL argument", NULL);
    FILE *f = fopen(path, "rb");
    if (!f)
        return MODEL`'_fail(err, errlen, path, "cannot be opened:", strerror(errno));
    unsigned char head[8];
    int rc = -1;
    if (fread(head, 1, 8, f) != 8) {
        MODEL`'_fail(err, errlen, path, "is not a safetensors file: shorter than 8 bytes", NULL);
    } else if (!memcmp(head, "MCGENW01", 8)) {
        rc = MODEL`'_load_bin(f, params, path, err, errlen);
    } else {
        unsigned long long hlen = 0;
        for (int i = 7; i >= 0; i--)
            hlen = hlen << 8 | head[i];
        char *h = hlen < ((unsigned long long)1 << 30) ? malloc((size_t)hlen + 1) : NULL;
        MODEL`'_entry *e = NULL;
        int count = -1;
        if (h && fread(h, 1, (size_t)hlen, f) == (size_t)hlen) {
            h[hlen] = 0;
            count = MODEL`'_entries(h, &e);
        }
        if (count < 0)
            MODEL`'_fail(err, errlen, path, "is not a safetensors file: its header is not the JSON it should be", NULL);
        else {
            const long long data = 8 + (long long)hlen;
            memset(params, 0, sizeof(float) * UPPER`'_PARAM_FLOATS);
            rc = 0;
            for (const struct MODEL`'_read *r = MODEL`'_reads; rc == 0 && r->name; r++)
                rc = MODEL`'_tensor_read(f, data, e, count, r->name, r->numel, params + r->at, path, err, errlen);
            for (const struct MODEL`'_fold *b = MODEL`'_folds; rc == 0 && b->tensors[0]; b++) {
                int co = 0;
                for (int s = 0; s < b->nseg; s++)
                    co += b->channels[s];
                float *stats = malloc(sizeof(float) * 4 * (size_t)co);
                rc = stats ? 0 : MODEL`'_fail(err, errlen, path, "cannot be read: out of memory", NULL);
                for (int t = 0; rc == 0 && t < 4; t++)
                    rc = MODEL`'_tensor_read(f, data, e, count, b->tensors[t], co, stats + (size_t)t * co, path, err, errlen);
                if (rc == 0)
                    mc_infer_fold(params + b->w, params + b->b, b->nseg, b->channels, b->block, stats, stats + co,
                        stats + 2 * co, stats + 3 * co, b->eps);
                free(stats);
            }
        }
        free(e);
        free(h);
    }
    fclose(f);
    return rc;
}
')
# ---- the predictor's main (mcgen build --inference) -------------------------------
m4_define(`MC_INFER_MAIN',
`MC_GENERATED(SOURCE, `infer')
#include "mc_predictor.h"
#include "MODEL.h"

/* The library typed for the predictor, which knows no MODEL`'_net. */
static void *make(const float *params) { return MODEL`'_new(params); }
static void unmake(void *net) { MODEL`'_free(net); }
static int infer(const void *net, const float *images, int batch, float *logits, void *workspace)
{
    return MODEL`'_infer(net, images, batch, logits, workspace);
}

int main(int argc, char **argv)
{
    static const mc_predictor p = {
        .name = "MODEL", .conv_type = "CONV_TYPE", .cpu = "MC_CPU", .build = "BUILD",
        .c = UPPER`'_IN_C, .h = UPPER`'_IN_H, .w = UPPER`'_IN_W, .classes = UPPER`'_CLASSES,
        .param_floats = UPPER`'_PARAM_FLOATS, .params = m4_ifelse(EMBEDDED, 1, `MODEL`'_params', `NULL'),
        .class_names = MODEL`'_class_names, .mean = MODEL`'_mean, .std = MODEL`'_std, .dataset = MODEL`'_dataset,
        .workspace_bytes = MODEL`'_workspace_bytes, .load = MODEL`'_load, .make = make, .unmake = unmake,
        .infer = infer,
    };
    return mc_predictor_main(&p, argc, argv);
}
')
m4_divert(0)m4_dnl
