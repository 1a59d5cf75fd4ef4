/* Bump allocator: the front end allocates everything it builds for one model
 * from one arena and frees it in one call, so an error path (which longjmps
 * out of the parser, see diag.h) can never leak. */
#ifndef MCGEN_ARENA_H
#define MCGEN_ARENA_H

#include <stddef.h>

typedef struct arena arena;

arena *arena_new(void);
void arena_free(arena *a);
/* Zeroed memory, aligned for any type. Never returns NULL (aborts on OOM). */
void *arena_alloc(arena *a, size_t size);
char *arena_strdup(arena *a, const char *s);
/* Room for one more element in a growable array of n elements of `size`
 * bytes with capacity *cap: returns the array, moved to a doubled
 * allocation when it is full (the old one stays in the arena). */
void *arena_grow(arena *a, void *items, int n, int *cap, size_t size);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
