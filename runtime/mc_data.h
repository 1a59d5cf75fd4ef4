/* What a command's --data is, for a given model: a released dataset
 * (mc_dataset.h) or images of one's own (a folder or a CSV list), with the
 * classes, normalization and held-out split that a checkpoint fixes (eval's
 * --weights, train's --resume, predict's --weights), else the options, else
 * the training images. Kept in the checkpoint's metadata so that eval and
 * predict see images as training did:
 *   dataset      the --dataset name ("images" for one's own)
 *   mean, std    per channel, comma-separated
 *   class_names  the classes' names, one per line (images)
 *   val_split, split_seed   the held-out fraction of one folder or list and
 *                the seed that drew it (images) */
#ifndef MC_DATA_H
#define MC_DATA_H

#include <stdint.h>

#include "mc_dataset.h"
#include "mc_model.h"
#include "mc_safetensors.h"

typedef struct mc_data_options {
    double val_split;       /* --val-split; < 0: not given */
    const char *mean, *std; /* --mean, --std: one value or one per channel, comma-separated */
} mc_data_options;

/* The info of data (a folder, list or released dataset's folder; NULL for
 * predict's image files) for model m: --dataset name, else the checkpoint's
 * (ckpt, may be NULL), else recognized from the files (saying so when it
 * had to guess). training: a single folder or list without a split gets
 * 10% held out (said in a note); seed draws a new split. The result is
 * freed by mc_dataset_info_free. NULL after printing a one-line error. */
const mc_dataset_info *mc_data_choose(const mc_model_desc *m, const char *data, const char *name, const char *ckpt,
                                      const mc_data_options *o, uint64_t seed, int training);

/* Both splits of data for training: the test split normalized as the
 * training split is. 0, or -1 after printing an error. */
int mc_data_load_splits(const char *data, const mc_dataset_info *info, long limit, mc_dataset *train,
                        mc_dataset *test);

/* The metadata above, for a checkpoint of a run on info. */
void mc_data_add_metadata(mc_st_writer *w, const mc_dataset_info *info);

#endif
