/* The command line of a classifier executable (what `mcgen build` makes):
 * train, eval, predict, forward, grad, init, info. The executable's main
 * is one call of this with its model's descriptor. */
#ifndef MC_CLASSIFIER_H
#define MC_CLASSIFIER_H

#include "mc_model.h"

struct mc_device; /* mc_net.h */

/* cuda: the GPU that --device cuda runs on (NULL: built without CUDA);
 * generic: run the runtime's generic kernels (the --generic build);
 * build: how it was built, for `info`. */
int mc_classifier_main(const mc_model_desc *m, const struct mc_device *cuda, int generic, const char *build, int argc,
                       char **argv);

#endif
