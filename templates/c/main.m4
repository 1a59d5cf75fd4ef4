m4_divert(-1)
# The main of a classifier executable (mcgen build): the model's descriptor
# handed to the runtime's command line.
# Constants: MODEL, SOURCE, GENERIC (1: the runtime's generic kernels run
# the model, the --generic build), BUILD (how it was built, shown by the info command),
# CUDA (1: the CUDA sources are linked in, for the device option).
m4_define(`MC_MAIN', `MC_GENERATED(SOURCE, `main')
#include "MODEL.h"
#include "mc_classifier.h"
m4_ifelse(CUDA, 1, `#include "MODEL`'_cuda.h"
')
int main(int argc, char **argv)
{
m4_ifelse(CUDA, 1, `    const mc_device cuda = mc_cuda_device(&MODEL`'_cuda_model);
    return mc_classifier_main(&MODEL`'_model, &cuda, GENERIC, "BUILD", argc, argv);
', `    return mc_classifier_main(&MODEL`'_model, 0, GENERIC, "BUILD", argc, argv);
')m4_dnl
}
')
m4_divert(0)m4_dnl
