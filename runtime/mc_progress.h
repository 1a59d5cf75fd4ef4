/* The progress line of a training epoch on a terminal: a bar, the rate,
 * the time left and the running loss and accuracy, redrawn in place a few
 * times a second. Off a terminal it prints nothing (the epoch lines do). */
#ifndef MC_PROGRESS_H
#define MC_PROGRESS_H

typedef struct mc_progress {
    int on, epoch, epochs;
    long total;
    double start, last_draw;
} mc_progress;

/* Seconds on a monotonic clock (for rates and epoch times). */
double mc_now(void);

void mc_progress_start(mc_progress *p, int on, int epoch, int epochs, long total);
void mc_progress_update(mc_progress *p, long done, double loss, double accuracy);
void mc_progress_end(mc_progress *p);

#endif
