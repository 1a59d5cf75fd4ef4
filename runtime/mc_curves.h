/* OUT/curves.svg: the training curves of a run, train and test loss (left
 * panel) and accuracy (right panel) per epoch, drawn from its log.csv as a
 * small self-contained SVG that a browser shows (no script, no font files,
 * no Python). Rewritten after every epoch, atomically. */
#ifndef MC_CURVES_H
#define MC_CURVES_H

#include <stddef.h>

/* Draws the rows of the log at `log` into `svg`. 0, or -1 with one line in
 * err. */
int mc_curves_write(const char *log, const char *svg, char *err, size_t errlen);

#endif
