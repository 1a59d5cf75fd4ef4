/* Which files make a split of an image folder or list, and their labels.
 * Layouts (torchvision's ImageFolder):
 *   DIR/train/<class>/<image> and DIR/val/<class>/<image> (or test/);
 *   DIR/<class>/<image>, one folder split by a fraction held out;
 *   a CSV file of `path,label` lines (label a class name or index; paths
 *   relative to the CSV's folder; an optional `path,label` header), split
 *   like a single folder.
 * Images are the files named *.png, *.jpg, *.jpeg, *.pgm, *.ppm, *.pnm and
 * *.bmp (any case); other files and hidden ones are not images. */
#ifndef MC_IMAGE_LIST_H
#define MC_IMAGE_LIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct mc_image_list {
    int n;
    char **paths;
    int32_t *labels;
} mc_image_list;

/* 1 when data is an image folder or list rather than a released dataset:
 * a regular file (a list), or a folder with subfolders and none of the
 * released datasets' files (has_release says whether it had those). */
int mc_images_is_own(const char *data, int has_release);

/* 1 when a single folder or a list: a split of it is held out for test. */
int mc_images_needs_split(const char *data);

/* The class names of data, sorted: the subfolders of DIR/train (or DIR), or
 * a list's labels (names sorted; numbers index them; all numbers: classes
 * "0".."fallback-1"). *names is one allocation (free() it). 0, or -1 with
 * one line in err. */
int mc_images_classes(const char *data, int fallback, char ***names, int *count, char *err, size_t errlen);

/* The training (test = 0) or test split of data, labelled by names: a
 * held-out fraction val_split of every class (at least one image of a
 * class of two or more) drawn with seed where data is one folder or list;
 * the split's images in an order drawn with seed, the first limit (> 0)
 * kept. 0, or -1 with one line in err naming the file and what was
 * expected. */
int mc_images_list(const char *data, char *const *names, int classes, int test, double val_split, uint64_t seed,
                   long limit, mc_image_list *out, char *err, size_t errlen);
void mc_image_list_free(mc_image_list *l);

#endif
