#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK_SIZE = 64 * 1024, ALIGN = 16 };

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
    _Alignas(ALIGN) unsigned char data[];
} chunk;

struct arena {
    chunk *head;
};

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fputs("mcgen: out of memory\n", stderr);
        abort();
    }
    return p;
}

arena *arena_new(void) { return xcalloc(sizeof(arena)); }

void arena_free(arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer every allocation gets a chunk of its own, so that
 * reading or writing past an object is caught instead of landing in its
 * neighbour within a shared chunk. */
void *arena_alloc(arena *a, size_t size)
{
    chunk *c = xcalloc(sizeof(chunk) + size);
    c->size = c->used = size;
    c->next = a->head;
    a->head = c;
    return c->data;
}
#else
void *arena_alloc(arena *a, size_t size)
{
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    chunk *c = a->head;
    if (!c || c->size - c->used < size) {
        size_t cap = size > CHUNK_SIZE ? size : CHUNK_SIZE;
        c = xcalloc(sizeof(chunk) + cap);
        c->size = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}
#endif

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    return p;
}

void *arena_grow(arena *a, void *items, int n, int *cap, size_t size)
{
    if (n < *cap)
        return items;
    *cap = *cap ? 2 * *cap : 16;
    void *p = arena_alloc(a, (size_t)*cap * size);
    if (n)
        memcpy(p, items, (size_t)n * size);
    return p;
}

char *arena_strdup(arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
