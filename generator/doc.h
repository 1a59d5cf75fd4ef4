/* `mcgen ops`: the language's layer and key reference, printed as Markdown
 * from the op registry itself, so models/README.md cannot drift from the
 * parser (a test compares them). */
#ifndef MCGEN_DOC_H
#define MCGEN_DOC_H

#include <stdio.h>

void doc_ops_markdown(FILE *f);

#endif
