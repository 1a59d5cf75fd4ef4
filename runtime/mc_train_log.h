/* log.csv, one row per epoch, kept in step with the checkpoint beside it.
 *
 * The checkpoint's rename is the one moment an epoch is committed. The
 * log's new text is written and synced to LOG.next before it, and renamed
 * over LOG after it: a run killed between the two leaves LOG.next, which a
 * resume takes when its last row is the checkpoint's epoch (and throws away
 * otherwise). So after any failure and a resume, the log lists exactly the
 * checkpoint's epochs, each once. */
#ifndef MC_TRAIN_LOG_H
#define MC_TRAIN_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Writes LOG.next: the header, LOG's rows of epochs 1..keep, then row (a
 * line without its newline; NULL for none), synced. 0, or -1 with err. */
int mc_log_prepare(const char *log, int64_t keep, const char *row, char *err, size_t errlen);
/* Renames LOG.next over LOG (durably). 0, or -1 with err. */
int mc_log_commit(const char *log, char *err, size_t errlen);
/* Removes LOG.next (a save that failed before its commit). */
void mc_log_abandon(const char *log);
/* Before a resumed run from a checkpoint of `epoch` epochs: LOG.next whose
 * last row is that epoch is committed, any other dropped; then LOG keeps
 * only epochs 1..epoch. 0, or -1 with err. */
int mc_log_recover(const char *log, int64_t epoch, char *err, size_t errlen);

#endif
