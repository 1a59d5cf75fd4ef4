/* See mc_report.h. */
#define _POSIX_C_SOURCE 200809L
#include "mc_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mc_durable.h"
#include "mc_kernels.h"

int mc_confusion_init(mc_confusion *c, int classes)
{
    *c = (mc_confusion){.classes = classes};
    c->counts = calloc((size_t)classes * (size_t)classes, sizeof *c->counts);
    return c->counts ? 0 : -1;
}

void mc_confusion_free(mc_confusion *c)
{
    free(c->counts);
    c->counts = NULL;
}

/* Classes whose logit beats the label's (or equals it at a lower class:
 * the order mc_top_k ranks them in). */
static int rank_of_label(const float *z, int classes, int label)
{
    int above = 0;
    for (int j = 0; j < classes; j++)
        above += z[j] > z[label] || (z[j] == z[label] && j < label);
    return above;
}

int mc_argmax(const float *z, int classes)
{
    int best = 0;
    for (int j = 1; j < classes; j++)
        if (z[j] > z[best])
            best = j;
    return best;
}

void mc_confusion_add(mc_confusion *c, const float *logits, const int32_t *labels, int n)
{
    const int k = c->classes;
    for (int b = 0; b < n; b++) {
        const float *z = logits + (long)b * k;
        c->counts[(long)labels[b] * k + mc_argmax(z, k)]++;
        c->top5 += rank_of_label(z, k, labels[b]) < 5;
    }
}

void mc_confusion_print(const mc_confusion *c, const mc_class_names *names, FILE *out)
{
    const int k = c->classes;
    int64_t total = 0;
    int width = 5;
    for (int i = 0; i < k; i++)
        if ((int)strlen(mc_class_name(names, i)) > width)
            width = (int)strlen(mc_class_name(names, i));
    fprintf(out, "per class:\n");
    for (int i = 0; i < k; i++) {
        int64_t images = 0;
        for (int j = 0; j < k; j++)
            images += c->counts[(long)i * k + j];
        total += images;
        const int64_t hits = c->counts[(long)i * k + i];
        if (images)
            fprintf(out, "  %3d %-*s  %6.2f%%  (%lld of %lld)\n", i, width, mc_class_name(names, i),
                    100.0 * (double)hits / (double)images, (long long)hits, (long long)images);
        else
            fprintf(out, "  %3d %-*s       -   (no images)\n", i, width, mc_class_name(names, i));
    }
    if (k >= 5 && total)
        fprintf(out, "top-5 accuracy %.2f%% (%lld of %lld)\n", 100.0 * (double)c->top5 / (double)total,
                (long long)c->top5, (long long)total);
}

void mc_csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int mc_confusion_write_csv(const mc_confusion *c, const mc_class_names *names, const char *path, char *err,
                           size_t errlen)
{
    mc_text text;
    FILE *f = mc_text_open(&text, path, err, errlen);
    if (!f)
        return -1;
    const int k = c->classes;
    fputs("true\\predicted", f);
    for (int j = 0; j < k; j++)
        fputc(',', f), mc_csv_field(f, mc_class_name(names, j));
    fputc('\n', f);
    for (int i = 0; i < k; i++) {
        mc_csv_field(f, mc_class_name(names, i));
        for (int j = 0; j < k; j++)
            fprintf(f, ",%lld", (long long)c->counts[(long)i * k + j]);
        fputc('\n', f);
    }
    return mc_text_commit(&text, path, err, errlen);
}

void mc_top_k(const float *logits, int classes, int k, int *top, double *p)
{
    float max;
    const double sum = mc_softmax_sum(classes, logits, &max);
    /* Selection: k is small (a handful of the classes). */
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int j = 0; j < classes; j++) {
            int taken = 0;
            for (int t = 0; t < i && !taken; t++)
                taken = top[t] == j;
            if (!taken && (best < 0 || logits[j] > logits[best]))
                best = j;
        }
        top[i] = best;
        p[i] = exp((double)logits[best] - max) / sum;
    }
}
