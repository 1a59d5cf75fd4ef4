/* `mcgen summary`: the per-layer table for people and the JSON for scripts. */
#ifndef MCGEN_SUMMARY_H
#define MCGEN_SUMMARY_H

#include <stdio.h>

#include "graph.h"

void summary_table(FILE *f, const mc_model *m);
void summary_json(FILE *f, const mc_model *m);

#endif
