/* The names of a classifier's classes, for what predict and eval print and
 * the confusion matrix's header: the checkpoint's metadata "class_names"
 * (a JSON array of strings, or the names one per line, as train on a
 * folder of images writes them) when it has one per class, else the
 * names of the dataset it was trained on (the releases' own: CIFAR-10's
 * "airplane", ...), else "class K". */
#ifndef MC_CLASS_NAMES_H
#define MC_CLASS_NAMES_H

typedef struct mc_class_names {
    int classes;
    char **names; /* classes strings */
    int known;    /* from the checkpoint or the dataset (else "class K") */
} mc_class_names;

/* Fills cn for a model of `classes` classes from the checkpoint at ckpt
 * (NULL: none) and the dataset of that name (NULL or unknown: none). A
 * list whose length is not `classes` is not used. 0, or -1 when out of
 * memory. */
int mc_class_names_load(mc_class_names *cn, int classes, const char *ckpt, const char *dataset);
const char *mc_class_name(const mc_class_names *cn, int k);
void mc_class_names_free(mc_class_names *cn);

/* The strings of a JSON array of strings into a new array of *count
 * strings (escapes decoded, \u as UTF-8); NULL when text is not one. */
char **mc_json_strings(const char *text, int *count);

#endif
