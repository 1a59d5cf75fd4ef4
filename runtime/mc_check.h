/* The classifier's `check`: the generated training step against the
 * runtime's generic one on random data, as mcgen tune asks of every
 * candidate build before it times it. */
#ifndef MC_CHECK_H
#define MC_CHECK_H

#include "mc_model.h"

/* One training forward, loss and backward of `batch` random images, both
 * ways from the same weights: the logits, the loss and every parameter
 * gradient must agree within tol of each tensor's largest magnitude.
 * Prints the largest difference; 0, or 1 after printing what differs. */
int mc_check(const mc_model_desc *m, int batch, double tol);

#endif
