#include "diag.h"

#include <stdarg.h>
#include <stdio.h>

void diag_error(diag *d, mc_loc at, const char *fmt, ...)
{
    int n;
    if (at.line > 0)
        n = snprintf(d->msg, sizeof d->msg, "%s:%d:%d: error: ", at.file, at.line, at.col);
    else
        n = snprintf(d->msg, sizeof d->msg, "%s: error: ", at.file);
    if (n < 0 || (size_t)n >= sizeof d->msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg + n, sizeof d->msg - (size_t)n, fmt, ap);
    va_end(ap);
    /* Messages quote user text: keep them on one line whatever it held. */
    for (char *p = d->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    longjmp(d->jump, 1);
}
