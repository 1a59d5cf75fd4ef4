/* mc_dist.h on MPI. A process joins the job only when an MPI launcher
 * (mpirun) started it: run by hand, a classifier stays one process and
 * never initializes MPI (no launcher to talk to, no start-up cost). */
#include "mc_dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "mc_kernels.h"
#include "mc_progress.h"

static int joined, rank, size = 1;
static double seconds; /* in the sums so far */
static double *bn_buf; /* the batch-norm hook's sums and count */
static int bn_cap;

/* What Open MPI's, MPICH's and PMIx launchers put in their processes'
 * environment. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int mc_dist_init(int *argc, char ***argv)
{
    if (!launched())
        return 0;
    /* The kernels' OpenMP threads never call MPI; the main thread does. */
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "error: MPI_Init failed\n");
        return -1;
    }
    joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return 0;
}

void mc_dist_finalize(void)
{
    if (joined)
        MPI_Finalize();
    joined = 0, rank = 0, size = 1;
    mc_bn_allreduce = NULL;
    free(bn_buf);
    bn_buf = NULL, bn_cap = 0;
}

int mc_dist_rank(void) { return rank; }
int mc_dist_size(void) { return size; }

/* In place over every rank; MPI counts are ints, so in pieces. */
static void sum(void *x, long n, MPI_Datatype type, size_t bytes)
{
    if (size == 1)
        return;
    const double t0 = mc_now();
    for (long at = 0; at < n; at += INT_MAX / 2) {
        const long count = n - at < INT_MAX / 2 ? n - at : INT_MAX / 2;
        MPI_Allreduce(MPI_IN_PLACE, (char *)x + at * bytes, (int)count, type, MPI_SUM, MPI_COMM_WORLD);
    }
    seconds += mc_now() - t0;
}

void mc_dist_sum_floats(float *x, long n) { sum(x, n, MPI_FLOAT, sizeof *x); }
void mc_dist_sum(double *x, int n) { sum(x, n, MPI_DOUBLE, sizeof *x); }
double mc_dist_seconds(void) { return seconds; }

int mc_dist_agree(uint64_t v)
{
    if (size == 1)
        return 1;
    /* One reduction: the maximum of v and of ~v give the largest and the
     * smallest value. */
    uint64_t both[2] = {v, ~v};
    MPI_Allreduce(MPI_IN_PLACE, both, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return both[0] == ~both[1];
}

/* The kernels' hook: the sums and the count in one reduction. */
static double bn_allreduce(double *sums, int n, double count)
{
    if (n + 1 > bn_cap) {
        free(bn_buf);
        bn_cap = 2 * (n + 1);
        bn_buf = malloc((size_t)bn_cap * sizeof *bn_buf);
        if (!bn_buf) {
            fprintf(stderr, "error: out of memory\n");
            mc_dist_abort();
        }
    }
    for (int i = 0; i < n; i++)
        bn_buf[i] = sums[i];
    bn_buf[n] = count;
    mc_dist_sum(bn_buf, n + 1);
    for (int i = 0; i < n; i++)
        sums[i] = bn_buf[i];
    return bn_buf[n];
}

void mc_dist_sync_bn(int on) { mc_bn_allreduce = on && size > 1 ? bn_allreduce : NULL; }

void mc_dist_abort(void)
{
    fflush(stdout);
    if (joined)
        MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}
