/* See mc_curves.h. */
#define _POSIX_C_SOURCE 200809L
#include "mc_curves.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_durable.h"

/* The log's columns that are drawn. */
enum { EPOCH, TRAIN_LOSS, TRAIN_ACC, TEST_LOSS, TEST_ACC, COLUMNS };

typedef struct rows {
    int n;
    double (*v)[COLUMNS];
} rows;

/* The rows of log.csv (epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds). */
static int read_log(const char *log, rows *r, char *err, size_t errlen)
{
    FILE *f = fopen(log, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read: %s", log, strerror(errno));
        return -1;
    }
    char line[512];
    int cap = 0;
    while (fgets(line, sizeof line, f)) {
        double e, lr, v[4];
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf", &e, &lr, &v[0], &v[1], &v[2], &v[3]) != 6)
            continue; /* the header */
        if (r->n == cap) {
            cap = cap ? 2 * cap : 64;
            void *grown = realloc(r->v, (size_t)cap * sizeof *r->v);
            if (!grown) {
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", log);
                return -1;
            }
            r->v = grown;
        }
        double *row = r->v[r->n++];
        row[EPOCH] = e, row[TRAIN_LOSS] = v[0], row[TRAIN_ACC] = 100 * v[1], row[TEST_LOSS] = v[2],
        row[TEST_ACC] = 100 * v[3];
    }
    fclose(f);
    return 0;
}

/* A round step for about 5 ticks over a span. */
static double tick_step(double span)
{
    const double raw = span / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

enum { PANEL_W = 380, PANEL_H = 260, LEFT = 60, TOP = 40, PLOT_W = PANEL_W - LEFT - 20, PLOT_H = PANEL_H - TOP - 50 };

/* One panel at x offset x0: the columns a (train) and b (test) against the
 * epoch. Accuracy spans 0 to 100; the loss, the round numbers around its
 * values (it falls little after the first epochs, and a scale from 0 would
 * flatten the part worth seeing). */
static void panel(FILE *f, const rows *r, int x0, const char *title, int a, int b, int percent)
{
    double ylo = 0, yhi = 100, xmax = r->v[r->n - 1][EPOCH];
    if (!percent) {
        ylo = INFINITY, yhi = -INFINITY;
        for (int i = 0; i < r->n; i++)
            for (int c = 0; c < 2; c++) {
                const double v = r->v[i][c ? b : a];
                ylo = isfinite(v) && v < ylo ? v : ylo;
                yhi = isfinite(v) && v > yhi ? v : yhi;
            }
        if (!(ylo <= yhi))
            ylo = 0, yhi = 1;
        if (yhi - ylo < 1e-3 * (fabs(yhi) + 1e-3))
            ylo -= 0.5 * fabs(ylo) + 0.01, yhi += 0.5 * fabs(yhi) + 0.01;
    }
    const double ystep = tick_step(yhi - ylo), xstep = xmax > 5 ? ceil(tick_step(xmax)) : 1;
    ylo = floor(ylo / ystep + 1e-9) * ystep, yhi = ceil(yhi / ystep - 1e-9) * ystep;
    if (xmax < 1)
        xmax = 1;
#define PX(e) (x0 + LEFT + PLOT_W * (e) / xmax)
#define PY(v) (TOP + PLOT_H - PLOT_H * ((v) - ylo) / (yhi - ylo))
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\">%s</text>\n", x0 + LEFT,
            title);
    for (double y = ylo; y <= yhi + 1e-9 * ystep; y += ystep)
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                x0 + LEFT, PY(y), x0 + LEFT + PLOT_W, PY(y), x0 + LEFT - 6, PY(y) + 4, fabs(y) < 1e-9 * ystep ? 0 : y);
    for (double e = 0; e <= xmax + 1e-9; e += xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", PX(e), TOP + PLOT_H + 16, e);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#000\"/>\n", x0 + LEFT, TOP,
            PLOT_W, PLOT_H);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n", x0 + LEFT + PLOT_W / 2,
            TOP + PLOT_H + 34);
    fprintf(f, "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n", x0 + 16,
            TOP + PLOT_H / 2, percent ? "accuracy (%)" : "loss");
    static const char *const colors[2] = {"#1f77b4", "#d62728"}, *const names[2] = {"train", "test"};
    for (int c = 0; c < 2; c++) {
        const int col = c ? b : a;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", colors[c]);
        for (int i = 0; i < r->n; i++)
            if (isfinite(r->v[i][col]))
                fprintf(f, "%s%.1f,%.1f", i ? " " : "", PX(r->v[i][EPOCH]), PY(r->v[i][col]));
        fprintf(f, "\"/>\n");
        for (int i = 0; i < r->n; i++) /* the points too: one epoch is no line */
            if (isfinite(r->v[i][col]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", PX(r->v[i][EPOCH]),
                        PY(r->v[i][col]), colors[c]);
        /* The legend, above the plot's right end (inside, it would hide
         * the curves). */
        const int lx = x0 + LEFT + PLOT_W - 120 + 64 * c, ly = TOP - 8;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                   "<text x=\"%d\" y=\"%d\">%s</text>\n", lx, ly - 4, lx + 20, ly - 4, colors[c], lx + 26, ly,
                names[c]);
    }
#undef PX
#undef PY
}

int mc_curves_write(const char *log, const char *svg, char *err, size_t errlen)
{
    rows r = {0};
    if (read_log(log, &r, err, errlen) != 0)
        return -1;
    mc_text text;
    FILE *f = mc_text_open(&text, svg, err, errlen);
    if (!f) {
        free(r.v);
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
            2 * PANEL_W, PANEL_H, 2 * PANEL_W, PANEL_H);
    if (r.n) {
        panel(f, &r, 0, "loss", TRAIN_LOSS, TEST_LOSS, 0);
        panel(f, &r, PANEL_W, "accuracy", TRAIN_ACC, TEST_ACC, 1);
    }
    fputs("</svg>\n", f);
    free(r.v);
    return mc_text_commit(&text, svg, err, errlen);
}
