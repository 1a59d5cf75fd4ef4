/* The standalone predictor (mcgen build --inference): an executable around
 * a model's inference library (mcgen emit --inference), which its emitted
 * main describes with this table. The library itself needs nothing of the
 * runtime; the predictor adds reading images and datasets, and timing. */
#ifndef MC_PREDICTOR_H
#define MC_PREDICTOR_H

#include <stddef.h>

typedef struct mc_predictor {
    const char *name, *conv_type, *cpu, *build;
    int c, h, w, classes;
    long long param_floats;
    const float *params;            /* embedded in the library, or NULL: --weights CKPT */
    const char *const *class_names; /* NULL entries where unknown */
    const float *mean, *std;        /* the library's normalization (from its checkpoint's metadata, else 0 and 1) */
    const char *dataset;            /* the dataset its checkpoint was trained on, "" if unknown */
    size_t (*workspace_bytes)(int batch);
    int (*load)(const char *path, float *params, char *err, size_t errlen);
    void *(*make)(const float *params); /* MODEL_new, MODEL_free */
    void (*unmake)(void *net);
    int (*infer)(const void *net, const float *images, int batch, float *logits, void *workspace);
} mc_predictor;

/* info, predict, eval and bench; the exit status. */
int mc_predictor_main(const mc_predictor *p, int argc, char **argv);

#endif
