/* Error reporting for the front end. The first error ends the run: it is
 * formatted as "file:line:col: error: message" and control jumps back to the
 * entry point (mc_load) through a jmp_buf, like Lua's error handling. All
 * memory lives in an arena, so nothing needs unwinding. */
#ifndef MCGEN_DIAG_H
#define MCGEN_DIAG_H

#include <setjmp.h>

typedef struct mc_loc {
    const char *file;
    int line, col; /* 1-based; line 0 means "the whole file" */
} mc_loc;

typedef struct diag {
    jmp_buf jump;
    char msg[1024];
} diag;

_Noreturn void diag_error(diag *d, mc_loc at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
