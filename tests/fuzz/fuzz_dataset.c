/* libFuzzer harness: one dataset reader, chosen at build time by
 * FUZZ_DATASET (mnist, cifar10, cifar100, stl10, imagenet32). The input
 * becomes one of the reader's files, picked by its first byte; the other
 * files are small valid ones, so that the reader gets past them. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "mc_dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The files each reader opens, the first the one fuzzed by default. */
static const char *const files_mnist[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", NULL};
static const char *const files_cifar10[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                            "data_batch_4.bin", "data_batch_5.bin", NULL};
static const char *const files_cifar100[] = {"train.bin", NULL};
static const char *const files_stl10[] = {"train_X.bin", "train_y.bin", NULL};
static const char *const files_imagenet32[] = {"val_data.npz", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *ds = FUZZ_DATASET;
    const char *const *files = !strcmp(ds, "mnist")      ? files_mnist
                               : !strcmp(ds, "cifar10")  ? files_cifar10
                               : !strcmp(ds, "cifar100") ? files_cifar100
                               : !strcmp(ds, "stl10")    ? files_stl10
                                                         : files_imagenet32;
    int nfiles = 0;
    while (files[nfiles])
        nfiles++;
    int which = size ? data[0] % nfiles : 0;
    /* The other files: empty but for MNIST's labels (8 + 3 bytes, 3 labels)
     * and STL's (3 labels), so that a good image file gets through. */
    static const uint8_t idx_labels[11] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    static const uint8_t stl_labels[3] = {1, 2, 3};
    for (int i = 0; i < nfiles; i++) {
        if (i == which)
            fuzz_write(files[i], size ? data + 1 : data, size ? size - 1 : 0);
        else if (!strcmp(ds, "mnist"))
            fuzz_write(files[i], idx_labels, sizeof idx_labels);
        else if (!strcmp(ds, "stl10"))
            fuzz_write(files[i], stl_labels, sizeof stl_labels);
        else
            fuzz_write(files[i], "", 0);
    }
    mc_dataset d;
    char err[512];
    if (mc_dataset_load(fuzz_dir(), mc_dataset_info_named(ds), 0, 0, &d, err, sizeof err) == 0)
        mc_dataset_free(&d);
    else
        fuzz_check_message(err);
    if (!strcmp(ds, "imagenet32")) { /* the validation split is the one file */
        if (mc_dataset_load(fuzz_dir(), mc_dataset_info_named(ds), 1, 0, &d, err, sizeof err) == 0)
            mc_dataset_free(&d);
        else
            fuzz_check_message(err);
    }
    return 0;
}
