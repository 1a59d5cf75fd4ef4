/* Checkpoints and tensor exchange files in the safetensors format
 * (https://github.com/huggingface/safetensors), so that PyTorch's
 * `safetensors` (or a 20-line reader) loads what we write and we load what
 * it writes.
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
 * mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
 * end)} (offsets relative to the first byte after the header) plus an
 * optional "__metadata__" object of string -> string; then the raw
 * little-endian data. The data regions tile the data area exactly.
 *
 * Byte order: data are copied as they lie in memory, which is right on the
 * little-endian hosts we build for; big-endian hosts are not supported (the
 * 8-byte header length is the one thing written byte by byte).
 *
 * No global state: writers and files are independent objects; different
 * threads may use different ones at the same time. */
#ifndef MC_SAFETENSORS_H
#define MC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The most dimensions a tensor may have: far more than any model here needs,
 * and it keeps the shape inline in mc_st_tensor. Files with more are
 * rejected. */
enum { MC_ST_MAX_DIMS = 8 };

/* The dtypes whose element size we know. A file being read may hold others
 * (e.g. "F8_E4M3" or dtypes newer than this code): they are kept as
 * MC_ST_OTHER with their raw bytes and name (dtype_str), so a reader can
 * skip them; their byte length is not checked against the shape, since we
 * do not know the element size. MC_ST_OTHER cannot be written. */
typedef enum {
    MC_ST_F32, MC_ST_I64, MC_ST_F64, MC_ST_I32, MC_ST_U8,
    MC_ST_I8, MC_ST_I16, MC_ST_U16, MC_ST_U32, MC_ST_U64,
    MC_ST_F16, MC_ST_BF16, MC_ST_BOOL,
    MC_ST_OTHER
} mc_st_dtype;

/* One tensor of a file being read (or a view of one being written).
 * Shape [] (ndim 0) is a scalar: one element. In a file being read, `data`
 * is aligned to the element size (to nothing for MC_ST_OTHER), so it can be
 * cast to float * etc., and stays valid until mc_st_close. */
typedef struct mc_st_tensor {
    const char *name;
    mc_st_dtype dtype;
    int ndim;
    int64_t shape[MC_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
    const char *dtype_str; /* the dtype as the file spells it: says what an MC_ST_OTHER is */
} mc_st_tensor;

/* ---- Writing: build a list, then write it atomically. ----
 * The writer copies names, shapes and metadata, but only points at the
 * data: the data pointers must live until mc_st_write returns.
 * Mistakes in mc_st_add / mc_st_add_metadata (too many dimensions, a
 * negative dimension, NULL data for a non-empty tensor, a name that is not
 * UTF-8, a repeated name, out of memory) are remembered and reported by
 * mc_st_write, which then touches no file: callers check one return value. */
typedef struct mc_st_writer mc_st_writer;

mc_st_writer *mc_st_writer_new(void); /* NULL if out of memory; the other calls accept NULL */
void mc_st_add(mc_st_writer *w, const char *name, mc_st_dtype dtype, int ndim, const int64_t *shape,
               const void *data);
void mc_st_add_metadata(mc_st_writer *w, const char *key, const char *value);

/* Writes the tensors (header and data in the order they were added, the
 * header padded with spaces to a multiple of 8 bytes as the reference
 * implementation does) to path, atomically: a temporary file
 * `<path>.tmp.<pid>` in the same directory, fsync, rename over path, fsync
 * the directory. A crash (or SIGKILL) at any moment leaves path either the
 * old complete file or the new complete one. On failure path is untouched,
 * the temporary is removed, and -1 is returned with one line in err
 * (if err is not NULL) naming the file and the system error; 0 on success.
 * A process killed mid-write leaves its `<path>.tmp.<pid>` behind: any such
 * file whose pid no longer runs is stale and may be deleted. Two threads of
 * one process must not write the same path at the same time (they would
 * share the temporary's name). MC_ST_UNSYNCED (-2) instead of -1 when the
 * new file is in place, complete, and only the sync of its directory
 * failed: what was written stands, its survival of a power cut is in doubt. */
enum { MC_ST_UNSYNCED = -2 };
int mc_st_write(mc_st_writer *w, const char *path, char *err, size_t errlen);
void mc_st_writer_free(mc_st_writer *w);

/* ---- Reading. ----
 * mc_st_open reads the whole file and validates all of it (header length,
 * strict JSON syntax and UTF-8, field types, integer offsets and shapes,
 * byte sizes against shapes, duplicate names, regions tiling the data area
 * exactly to the end of the file) before returning anything, so users of
 * the result need no checks of their own beyond the names, dtypes and
 * shapes they expect. */
typedef struct mc_st_file mc_st_file;

/* NULL + one line in err naming the file and the problem, e.g.
 * "ckpt.safetensors: header says 1234 bytes but the file has only 92 after the length". */
mc_st_file *mc_st_open(const char *path, char *err, size_t errlen);
int mc_st_count(const mc_st_file *f);
/* Tensors in the order of the JSON header (for our files: the order they
 * were added). */
const mc_st_tensor *mc_st_at(const mc_st_file *f, int i);
const mc_st_tensor *mc_st_find(const mc_st_file *f, const char *name); /* NULL if absent */
const char *mc_st_metadata(const mc_st_file *f, const char *key);       /* NULL if absent */
const char *mc_st_path(const mc_st_file *f);
const char *mc_st_dtype_name(mc_st_dtype t); /* "F32", ...; "OTHER" for MC_ST_OTHER */
size_t mc_st_dtype_size(mc_st_dtype t);      /* bytes per element; 0 for MC_ST_OTHER */
void mc_st_close(mc_st_file *f);             /* accepts NULL */

#endif
