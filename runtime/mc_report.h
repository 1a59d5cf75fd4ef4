/* Results beyond loss and accuracy: eval's confusion matrix, per-class and
 * top-5 accuracy, and predict's k most likely classes. */
#ifndef MC_REPORT_H
#define MC_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mc_class_names.h"

typedef struct mc_confusion {
    int classes;
    int64_t *counts; /* classes x classes: row the true class, column the predicted one */
    int64_t top5;    /* images whose label is among their 5 highest logits */
} mc_confusion;

/* The class of the first highest logit of a row (what accuracy counts). */
int mc_argmax(const float *z, int classes);

/* 0, or -1 when out of memory. */
int mc_confusion_init(mc_confusion *c, int classes);
void mc_confusion_free(mc_confusion *c);
/* Counts n images by their logits (n x classes) and labels (the predicted
 * class: mc_argmax). */
void mc_confusion_add(mc_confusion *c, const float *logits, const int32_t *labels, int n);
/* Prints every class's accuracy (correct / images of that class) and, for
 * 5 classes or more, the top-5 accuracy. */
void mc_confusion_print(const mc_confusion *c, const mc_class_names *names, FILE *out);
/* Writes the matrix as CSV, atomically: a header "true\predicted" then the
 * class names, then one row per true class, its name and its counts. 0, or
 * -1 with one line in err. */
int mc_confusion_write_csv(const mc_confusion *c, const mc_class_names *names, const char *path, char *err,
                           size_t errlen);

/* The k most likely classes of one image's logits, most likely first
 * (ties: the lower class first): their classes into top[] and softmax
 * probabilities into p[]. k <= classes. */
void mc_top_k(const float *logits, int classes, int k, int *top, double *p);

/* Writes s as a CSV field: quoted (quotes doubled) when it holds a comma, a
 * quote or a line break. */
void mc_csv_field(FILE *f, const char *s);

#endif
