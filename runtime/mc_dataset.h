/* The training data, read from the files exactly as the official releases
 * ship them (no conversion step for the user to run): MNIST and
 * Fashion-MNIST IDX (gzipped or not), CIFAR-10/100 binary, STL-10 binary and
 * the downsampled-ImageNet 32x32 npz release; and folders or lists of
 * images of one's own (mc_image_list.h, image_set.c). Every image comes out in one
 * layout (uint8, CHW, row-major) so that augmentation, normalisation and
 * batching are written once. A malformed, truncated or mismatched file is an
 * error naming the file and what is wrong, never a crash or a silent
 * misreading: a wrong pixel order trains a worse model without complaint. */
#ifndef MC_DATASET_H
#define MC_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MC_DS_MNIST, MC_DS_FASHION_MNIST, MC_DS_CIFAR10, MC_DS_CIFAR100, MC_DS_STL10, MC_DS_IMAGENET32,
               MC_DS_IMAGES /* a folder or list of images: its info is made for the model (mc_dataset_info_images) */
} mc_dataset_kind;
typedef struct mc_dataset_info {
    mc_dataset_kind kind;
    const char *name;          /* "mnist", "fashion-mnist", "cifar10", "cifar100", "stl10", "imagenet32" (what --dataset takes) */
    int c, h, w, classes;
    float mean[3], std[3];     /* per channel, after scaling pixels to [0,1] */
    int batch, epochs;         /* the paper's defaults: 128 (64 for STL-10); 300 (50 for ImageNet32) */
    int augment;               /* pad 4 + random crop + flip: all but ImageNet32 (the reference feeds it as is);
                                * images: random-resized crop + flip */
    /* Images of one's own: the classes' names (NULL for the released
     * datasets: their classes are numbered), and the fraction of a single
     * folder or list held out for test with the seed that drew it. */
    char *const *class_names;
    double val_split;
    uint64_t split_seed;
} mc_dataset_info;
typedef struct mc_dataset {
    const mc_dataset_info *info;
    int n;
    uint8_t *images;   /* n images, each c planes of h x w bytes, row-major (CHW) */
    int32_t *labels;   /* n labels in [0, classes) */
    /* Images of one's own: images is NULL, and each batch is decoded (or
     * taken from the set's cache) and cropped to the model's input. */
    struct mc_image_set *set;
} mc_dataset;
/* Looks up a dataset by its --dataset name; NULL if unknown. */
const mc_dataset_info *mc_dataset_info_named(const char *name);
/* Which dataset the files under dir are (NULL + err if none matches, or ambiguous). */
const mc_dataset_info *mc_dataset_detect(const char *dir, char *err, size_t errlen);
/* When detection had to guess between datasets of one format (MNIST and
 * Fashion-MNIST): 1 and a line in note saying which it chose, why, and how
 * to choose; else 0. */
int mc_dataset_guess_note(const char *dir, const mc_dataset_info *info, char *note, size_t len);
/* Loads the training (test = 0) or test split of `info` from dir (info NULL: detect). Returns 0, or -1 with a one-line message in err. limit > 0 keeps only the first `limit` records. */
int mc_dataset_load(const char *dir, const mc_dataset_info *info, int test, long limit, mc_dataset *out, char *err, size_t errlen);
void mc_dataset_free(mc_dataset *d);

/* The info of images of one's own for a model of c x h x w: names (one
 * allocation, owned from here on) of classes classes; mean and std unset
 * (std 0) until a training split is read or they are given. NULL when out
 * of memory. */
mc_dataset_info *mc_dataset_info_images(int c, int h, int w, char **names, int classes);
/* A copy of an info of images (its names too); NULL when out of memory. */
mc_dataset_info *mc_dataset_info_copy(const mc_dataset_info *info);
/* Frees an info made by the two above; the released datasets' are static
 * and ignored. */
void mc_dataset_info_free(const mc_dataset_info *info);

#endif
