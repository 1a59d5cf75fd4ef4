#define _POSIX_C_SOURCE 200809L
#include "mc_progress.h"

#include <stdio.h>
#include <time.h>

double mc_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void mc_progress_start(mc_progress *p, int on, int epoch, int epochs, long total)
{
    *p = (mc_progress){.on = on, .epoch = epoch, .epochs = epochs, .total = total};
    p->start = mc_now();
}

void mc_progress_update(mc_progress *p, long done, double loss, double accuracy)
{
    const double t = mc_now();
    if (!p->on || (t - p->last_draw < 0.2 && done < p->total))
        return;
    p->last_draw = t;
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    const int filled = p->total ? (int)(WIDTH * done / p->total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    const double rate = done / (t - p->start + 1e-9), left = rate > 0 ? (p->total - done) / rate : 0;
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %ld/%ld  %.0f img/s  ETA %d:%02d  loss %.4f  acc %.2f%%", p->epoch,
            p->epochs, bar, done, p->total, rate, (int)left / 60, (int)left % 60, loss, 100 * accuracy);
    fflush(stderr);
}

void mc_progress_end(mc_progress *p)
{
    if (p->on)
        fprintf(stderr, "\r\033[K");
}
