/* fuzz_rep_statistics.c — libFuzzer harness: a GLP folder's
 * rep_statistics.pt (torch pickle, read by the allow-listed unpickler) for a
 * GLP of d_input 16 (the fixture's), in memory through glp_stats_pt_mem, the
 * function glp_load_folder reads the file with: a tensor shaped [16] or [L, 16]
 * (row -1, 0 or 1: refused, first, second), no NaN or negative variance.
 * Loading a whole GLP folder per input ran ~400 inputs/s; this runs the same
 * parser and checks at thousands. */
#include "glp_folder.h"
#include "err.h"

#include <stdint.h>
#include <stdlib.h>

#define D 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float mean[D], var[D];
    int row = (int)(size % 3) - 1;
    ms_clearerr();
    if (glp_stats_pt_mem(data, size, "rep_statistics.pt", D, row, mean, var)) {
        if (!ms_geterr()[0]) abort(); /* a refusal always says why */
        return 0;
    }
    for (int i = 0; i < D; i++)
        if (!(var[i] >= 0)) abort();
    return 0;
}
