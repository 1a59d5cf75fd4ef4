#define _POSIX_C_SOURCE 200809L
#include "mc_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double mc_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int mc_progress_default(void) { return isatty(2) ? MC_PROGRESS_BAR : MC_PROGRESS_LINES; }

void mc_progress_start(mc_progress *p, int mode, const char *what, long total)
{
    *p = (mc_progress){.mode = mode, .total = total, .every = 30};
    snprintf(p->what, sizeof p->what, "%s", what);
    const char *every = getenv("MCGEN_PROGRESS_SECONDS");
    if (every)
        p->every = atof(every);
    p->start = p->last_draw = mc_now();
}

void mc_progress_update(mc_progress *p, long done, double loss, double accuracy)
{
    const double t = mc_now();
    if (p->mode == MC_PROGRESS_OFF || (p->mode == MC_PROGRESS_BAR && t - p->last_draw < 0.2 && done < p->total) ||
        (p->mode == MC_PROGRESS_LINES && (t - p->last_draw < p->every || done >= p->total)))
        return;
    p->last_draw = t;
    enum { WIDTH = 24 };
    char bar[WIDTH + 3] = "";
    if (p->mode == MC_PROGRESS_BAR) {
        const int filled = p->total ? (int)(WIDTH * done / p->total) : WIDTH;
        bar[0] = '[';
        for (int i = 0; i < WIDTH; i++)
            bar[i + 1] = i < filled ? '#' : '.';
        bar[WIDTH + 1] = ']';
    }
    const double rate = done / (t - p->start + 1e-9), left = rate > 0 ? (p->total - done) / rate : 0;
    fprintf(stderr, "%s%s %s %ld/%ld  %.0f img/s  ETA %d:%02d", p->mode == MC_PROGRESS_BAR ? "\r\033[K" : "",
            p->what, bar, done, p->total, rate, (int)left / 60, (int)left % 60);
    if (loss >= 0)
        fprintf(stderr, "  loss %.4f  acc %.2f%%", loss, 100 * accuracy);
    fputs(p->mode == MC_PROGRESS_BAR ? "" : "\n", stderr);
    fflush(stderr);
}

void mc_progress_end(mc_progress *p)
{
    if (p->mode == MC_PROGRESS_BAR)
        fprintf(stderr, "\r\033[K");
}
