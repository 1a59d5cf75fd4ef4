/* Expansion of a parsed description into graph nodes (see expand.c). */
#ifndef MCGEN_EXPAND_H
#define MCGEN_EXPAND_H

#include "ast.h"
#include "build.h"

/* Appends the program's nodes to b->m (node 0, the input, must exist) and
 * returns a reference to the model's output. Errors go through b->d. */
int expand_program(build *b, const program *prog);

#endif
