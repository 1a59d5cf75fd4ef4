m4_divert(-1)
# The main of a classifier executable (mcgen build): the model's descriptor
# handed to the runtime's command line.
# Constants: MODEL, SOURCE, GENERIC (1: the runtime's generic kernels run
# the model, the --generic build), BUILD (how it was built, shown by the info command).
m4_define(`MC_MAIN', `MC_GENERATED(SOURCE, `main')
#include "MODEL.h"
#include "mc_classifier.h"

int main(int argc, char **argv)
{
    return mc_classifier_main(&MODEL`'_model, GENERIC, "BUILD", argc, argv);
}
')
m4_divert(0)m4_dnl
