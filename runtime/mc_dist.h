/* Data-parallel training across processes: the few collective operations
 * the training loop needs. dist_mpi.c implements them on MPI (a build with
 * MCGEN_MPI, launched by mpirun); dist_serial.c is the same interface for
 * one process (rank 0 of 1), so the training loop reads the same either
 * way. A device-memory (NCCL) variant of the gradient sum belongs beside
 * mc_dist_sum_floats in dist_mpi.c. */
#ifndef MC_DIST_H
#define MC_DIST_H

#include <stdint.h>

/* Joins the job when an MPI launcher started this process; else, and in a
 * build without MPI, runs as rank 0 of 1. 0, or -1 after printing an error. */
int mc_dist_init(int *argc, char ***argv);
void mc_dist_finalize(void);

int mc_dist_rank(void);
int mc_dist_size(void);

/* Sums n floats elementwise over every rank, in place (a step's gradients:
 * one flat buffer, one call); the time it takes, like that of every sum
 * here, is added to mc_dist_seconds(). */
void mc_dist_sum_floats(float *x, long n);
/* The same for doubles (epoch totals, batch-norm statistics). */
void mc_dist_sum(double *x, int n);
/* Seconds spent in the sums so far (the waiting for slower ranks included). */
double mc_dist_seconds(void);

/* 1 when v is the same on every rank, else 0 (on every rank). */
int mc_dist_agree(uint64_t v);

/* Batch norm sums its batch statistics over every rank (--sync-bn) while
 * on; it sets the kernels' hook (mc_bn_allreduce in mc_kernels.h). */
void mc_dist_sync_bn(int on);

/* Ends every rank of the job with status 1 (after an error on one). */
void mc_dist_abort(void);

#endif
