/* The training data, read from the files exactly as the official releases
 * ship them (no conversion step for the user to run): MNIST and
 * Fashion-MNIST IDX (gzipped or not), CIFAR-10/100 binary, STL-10 binary and
 * the downsampled-ImageNet 32x32 npz release. Every image comes out in one
 * layout (uint8, CHW, row-major) so that augmentation, normalisation and
 * batching are written once. A malformed, truncated or mismatched file is an
 * error naming the file and what is wrong, never a crash or a silent
 * misreading: a wrong pixel order trains a worse model without complaint. */
#ifndef MC_DATASET_H
#define MC_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MC_DS_MNIST, MC_DS_FASHION_MNIST, MC_DS_CIFAR10, MC_DS_CIFAR100, MC_DS_STL10, MC_DS_IMAGENET32 } mc_dataset_kind;
typedef struct mc_dataset_info {
    mc_dataset_kind kind;
    const char *name;          /* "mnist", "fashion-mnist", "cifar10", "cifar100", "stl10", "imagenet32" (what --dataset takes) */
    int c, h, w, classes;
    float mean[3], std[3];     /* per channel, after scaling pixels to [0,1] */
    int batch, epochs;         /* the paper's defaults: 128 (64 for STL-10); 300 (50 for ImageNet32) */
    int augment;               /* pad 4 + random crop + flip: all but ImageNet32 (the reference feeds it as is) */
} mc_dataset_info;
typedef struct mc_dataset {
    const mc_dataset_info *info;
    int n;
    uint8_t *images;   /* n images, each c planes of h x w bytes, row-major (CHW) */
    int32_t *labels;   /* n labels in [0, classes) */
} mc_dataset;
/* Looks up a dataset by its --dataset name; NULL if unknown. */
const mc_dataset_info *mc_dataset_info_named(const char *name);
/* Which dataset the files under dir are (NULL + err if none matches, or ambiguous). */
const mc_dataset_info *mc_dataset_detect(const char *dir, char *err, size_t errlen);
/* Loads the training (test = 0) or test split of `info` from dir (info NULL: detect). Returns 0, or -1 with a one-line message in err. limit > 0 keeps only the first `limit` records. */
int mc_dataset_load(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out, char *err, size_t errlen);
void mc_dataset_free(mc_dataset *d);

#endif
