/* See mc_data.h. */
#include "mc_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_class_names.h"
#include "mc_image_list.h"

/* What a checkpoint says about its data (strings point into the file). */
typedef struct meta {
    const char *dataset, *mean, *std, *names, *val_split, *split_seed;
} meta;

static int read_meta(const char *ckpt, mc_st_file **f, meta *md)
{
    memset(md, 0, sizeof *md);
    *f = NULL;
    if (!ckpt)
        return 0;
    char err[1024];
    if (!(*f = mc_st_open(ckpt, err, sizeof err))) {
        fprintf(stderr, "error: %s\n", err);
        return -1;
    }
    md->dataset = mc_st_metadata(*f, "dataset");
    if (md->dataset && !*md->dataset)
        md->dataset = NULL;
    md->mean = mc_st_metadata(*f, "mean");
    md->std = mc_st_metadata(*f, "std");
    md->names = mc_st_metadata(*f, "class_names");
    md->val_split = mc_st_metadata(*f, "val_split");
    md->split_seed = mc_st_metadata(*f, "split_seed");
    return 0;
}

/* "a" or "a,b,c" (c values) into out[3] (one channel: repeated); what
 * names the source for the message. 0, or -1 after printing an error. */
static int parse_channels(const char *s, int c, float *out, const char *what, int positive)
{
    float v[3];
    int n = 0;
    const char *at = s;
    for (;;) {
        char *end;
        const double x = strtod(at, &end);
        if (end == at || n == 3 || !(positive ? x > 0 : x >= -1e6) || x > 1e6)
            break;
        v[n++] = (float)x;
        if (!*end) {
            if (n == 1 || n == c) {
                for (int k = 0; k < 3; k++)
                    out[k] = v[n == 1 || k >= c ? 0 : k];
                return 0;
            }
            break;
        }
        if (*end != ',')
            break;
        at = end + 1;
    }
    fprintf(stderr, "error: %s '%s': expected one number or %d comma-separated%s\n", what, s, c,
            positive ? " above 0" : "");
    return -1;
}

/* Names, one per line, into one allocation. NULL if out of memory. */
static char **split_names(const char *lines, int *count)
{
    int n = 1;
    for (const char *p = lines; *p; p++)
        n += *p == '\n';
    const size_t len = strlen(lines) + 1;
    char **v = malloc((size_t)n * sizeof *v + len);
    if (!v)
        return NULL;
    char *text = memcpy((char *)(v + n), lines, len);
    for (int k = 0; k < n; k++) {
        v[k] = text;
        text = strchr(text, '\n');
        if (text)
            *text++ = 0;
    }
    *count = n;
    return v;
}

/* The classes: the checkpoint's, else the data's. NULL after an error. */
static mc_dataset_info *images_info(const mc_model_desc *m, const char *data, const char *ckpt, const meta *md)
{
    char **names = NULL, err[1024];
    int count = 0;
    if (md->names) {
        if (!(names = split_names(md->names, &count))) {
            fprintf(stderr, "error: out of memory\n");
            return NULL;
        }
    } else if (data) {
        if (mc_images_classes(data, m->classes, &names, &count, err, sizeof err) != 0) {
            fprintf(stderr, "error: %s\n", err);
            return NULL;
        }
    } else {
        fprintf(stderr, "error: %s does not name its classes (not trained on images of one's own)\n", ckpt);
        return NULL;
    }
    if (count != m->classes) {
        fprintf(stderr, "error: %s has %d classes (%s%s), but %s takes %d; build it with --classes %d (train "
                "--init then starts from other weights with a new head)\n", md->names ? ckpt : data, count,
                names[0], count > 1 ? ", ..." : "", m->name, m->classes, count);
        free(names);
        return NULL;
    }
    mc_dataset_info *info = mc_dataset_info_images(m->c, m->h, m->w, names, count);
    if (!info)
        fprintf(stderr, "error: out of memory\n");
    return info;
}

/* Split and normalization: the options, else the checkpoint's, else (when
 * training) a default split and statistics computed later. */
static int images_settings(mc_dataset_info *info, const char *data, const meta *md, const mc_data_options *o,
                           uint64_t seed, int training)
{
    info->split_seed = md->split_seed ? strtoull(md->split_seed, NULL, 10) : seed;
    if (o && o->val_split >= 0)
        info->val_split = o->val_split;
    else if (md->val_split)
        info->val_split = strtod(md->val_split, NULL);
    else if (training && data && mc_images_needs_split(data)) {
        info->val_split = 0.1;
        fprintf(stderr, "note: %s is one folder or list: 10%% of each class is held out for test (--val-split "
                "sets the fraction, --seed draws it)\n", data);
    }
    const char *mean = o && o->mean ? o->mean : md->mean, *std = o && o->std ? o->std : md->std;
    if (!mean != !std) {
        fprintf(stderr, "error: --mean and --std go together\n");
        return -1;
    }
    if (mean && (parse_channels(mean, info->c, info->mean, o && o->mean ? "--mean" : "the checkpoint's mean", 0) ||
                 parse_channels(std, info->c, info->std, o && o->std ? "--std" : "the checkpoint's std", 1)))
        return -1;
    return 0;
}

/* A released dataset: named, or recognized (a guess said in a note). */
static const mc_dataset_info *released(const char *data, const char *name, int *is_images)
{
    char err[1024];
    *is_images = 0;
    if (name) {
        const mc_dataset_info *info = mc_dataset_info_named(name);
        *is_images = !info && strcmp(name, "images") == 0;
        if (!info && !*is_images)
            fprintf(stderr, "error: unknown dataset '%s'; expected mnist, fashion-mnist, cifar10, cifar100, stl10, "
                            "imagenet32 or images\n", name);
        return info;
    }
    if (!data) {
        fprintf(stderr, "error: no --data or --dataset to say what the images are\n");
        return NULL;
    }
    const mc_dataset_info *info = mc_images_is_own(data, 0) ? NULL : mc_dataset_detect(data, err, sizeof err);
    if (!info && mc_images_is_own(data, 0))
        *is_images = 1;
    else if (!info)
        fprintf(stderr, "error: %s\n", err);
    else if (mc_dataset_guess_note(data, info, err, sizeof err))
        fprintf(stderr, "note: %s\n", err);
    return info;
}

const mc_dataset_info *mc_data_choose(const mc_model_desc *m, const char *data, const char *name, const char *ckpt,
                                      const mc_data_options *o, uint64_t seed, int training)
{
    mc_st_file *f;
    meta md;
    if (read_meta(ckpt, &f, &md) != 0)
        return NULL;
    int is_images;
    const mc_dataset_info *info = released(data, name ? name : md.dataset, &is_images);
    if (info && o && (o->mean || o->std || o->val_split >= 0)) {
        fprintf(stderr, "error: --mean, --std and --val-split are for images of one's own; %s has its own "
                        "split and statistics\n", info->name);
        info = NULL;
    } else if (is_images) {
        mc_dataset_info *own = images_info(m, data, ckpt, &md);
        if (own && images_settings(own, data, &md, o, seed, training) != 0) {
            mc_dataset_info_free(own);
            own = NULL;
        }
        info = own;
    }
    mc_st_close(f);
    return info;
}

static int load(const char *data, const mc_dataset_info *info, int test, long limit, mc_dataset *d)
{
    char err[1024];
    if (mc_dataset_load(data, info, test, limit, d, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "error: %s\n", err);
    return -1;
}

int mc_data_load_splits(const char *data, const mc_dataset_info *info, long limit, mc_dataset *train,
                        mc_dataset *test)
{
    if (load(data, info, 0, limit, train) != 0)
        return -1;
    if (info->kind != MC_DS_IMAGES)
        return load(data, info, 1, limit, test);
    /* The test split normalized with the training split's statistics. */
    mc_dataset_info *same = mc_dataset_info_copy(train->info);
    if (!same) {
        fprintf(stderr, "error: out of memory\n");
        return -1;
    }
    const int rc = load(data, same, 1, limit, test);
    mc_dataset_info_free(same);
    return rc;
}

void mc_data_add_metadata(mc_st_writer *w, const mc_dataset_info *info)
{
    char mean[64] = "", std[64] = ""; /* %.9g: a float read back is the same float */
    for (int k = 0; k < info->c && k < 3; k++) {
        snprintf(mean + strlen(mean), sizeof mean - strlen(mean), "%s%.9g", k ? "," : "", (double)info->mean[k]);
        snprintf(std + strlen(std), sizeof std - strlen(std), "%s%.9g", k ? "," : "", (double)info->std[k]);
    }
    mc_st_add_metadata(w, "mean", mean);
    mc_st_add_metadata(w, "std", std);
    /* The class names: a folder's, or the release's own (mc_class_names.h),
     * so that what reads the checkpoint alone (an inference library emitted
     * from it) names the classes too. */
    mc_class_names cn = {0};
    char *const *list = info->class_names;
    if (info->kind != MC_DS_IMAGES)
        list = mc_class_names_load(&cn, info->classes, NULL, info->name) == 0 && cn.known ? cn.names : NULL;
    if (list) {
        size_t len = 1;
        for (int k = 0; k < info->classes; k++)
            len += strlen(list[k]) + 1;
        char *names = malloc(len);
        if (names) { /* without, the writer's own failure for a missing value reports it */
            names[0] = 0;
            for (int k = 0, at = 0; k < info->classes; k++)
                at += sprintf(names + at, "%s%s", k ? "\n" : "", list[k]);
        }
        mc_st_add_metadata(w, "class_names", names);
        free(names);
    }
    mc_class_names_free(&cn);
    if (info->kind != MC_DS_IMAGES)
        return;
    char num[64];
    snprintf(num, sizeof num, "%.17g", info->val_split);
    mc_st_add_metadata(w, "val_split", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)info->split_seed);
    mc_st_add_metadata(w, "split_seed", num);
}
