/* mcgen build's last stage: the C compiler over the emitted sources, and
 * the link with the runtime into one executable. */
#ifndef MCGEN_COMPILE_H
#define MCGEN_COMPILE_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

typedef struct mc_compile_job {
    const char *cc;          /* the compiler (a program name or path) */
    const char *cflags;      /* space-separated */
    const char *src_dir;     /* the emitted sources */
    const char *const *files;
    int nfiles;
    const char *include_dir; /* the runtime's headers */
    const char *runtime_lib; /* libmcgen_runtime.a */
    const char *libs;        /* what the runtime links against, space-separated */
    const char *exe;         /* the executable to write (atomically) */
    /* CUDA (nvcc NULL: none): .cu files compile with nvcc and nvflags,
     * the link adds cuda_lib (libmcgen_cuda.a) and cuda_libs. */
    const char *nvcc, *nvflags, *cuda_include_dir, *cuda_lib, *cuda_libs;
} mc_compile_job;

/* Compiles every .c and .cu (as many at once as there are processors) and links.
 * The compiler's own messages go to stderr; err gets one line. */
bool mc_compile(struct arena *a, const mc_compile_job *job, char *err, size_t errlen);

#endif
