/* From dataset records to a normalized float batch, with the paper's
 * augmentation: zero-pad 4 pixels, random crop back to size, random
 * horizontal flip (torchvision's RandomCrop(padding=4) and
 * RandomHorizontalFlip, in that order, then ToTensor and Normalize). */
#ifndef MC_BATCH_H
#define MC_BATCH_H

#include <stdint.h>

#include "mc_dataset.h"
#include "mc_rng.h"

/* Writes images order[0..n) of d into x (n x c x h x w) and their labels;
 * r draws the crops and flips when augment is set (three draws per image:
 * crop row, crop column, flip), and nothing otherwise. */
void mc_batch_fill(const mc_dataset *d, const int64_t *order, int n, int augment, mc_rng *r, float *x,
                   int32_t *labels);

/* The part [first, first + n) of the batch order[0..total): r draws for
 * every image of the batch, so it ends where mc_batch_fill of the whole
 * batch leaves it (a rank's shard of a global batch, data-parallel). */
void mc_batch_fill_part(const mc_dataset *d, const int64_t *order, int total, int first, int n, int augment,
                        mc_rng *r, float *x, int32_t *labels);

/* A random permutation of 0..n-1 (Fisher-Yates). */
void mc_shuffle(int64_t *order, int64_t n, mc_rng *r);

#endif
