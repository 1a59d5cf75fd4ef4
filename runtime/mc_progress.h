/* The progress of a long loop (a training epoch, an evaluation). On a
 * terminal: a bar, the rate, the time left and the running loss and
 * accuracy, redrawn in place a few times a second. Off a terminal (a log
 * file, a batch job): the same as a plain line at least every 30 s, so
 * that a slow epoch is never a long silence (the epoch lines say the
 * rest). MCGEN_PROGRESS_SECONDS sets that interval (the tests use 0). */
#ifndef MC_PROGRESS_H
#define MC_PROGRESS_H

typedef enum { MC_PROGRESS_OFF, MC_PROGRESS_BAR, MC_PROGRESS_LINES } mc_progress_mode;

typedef struct mc_progress {
    int mode;
    char what[32]; /* "epoch 3/300", "evaluation" */
    long total;
    double start, last_draw, every;
} mc_progress;

/* Seconds on a monotonic clock (for rates and epoch times). */
double mc_now(void);

/* The mode for this process's stderr: a bar on a terminal, else lines. */
int mc_progress_default(void);

void mc_progress_start(mc_progress *p, int mode, const char *what, long total);
/* done of total images so far; loss < 0: none to show. */
void mc_progress_update(mc_progress *p, long done, double loss, double accuracy);
void mc_progress_end(mc_progress *p);

#endif
