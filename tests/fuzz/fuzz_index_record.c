/* fuzz_index_record.c — libFuzzer harness: arbitrary bytes as one decompressed
 * index record (index_decode_record). What decodes must re-encode to the
 * same bytes' meaning: encode then decode again gives the same counts. */
#include "index.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ix_record r, back;
    if (index_decode_record(data, size, &r, "fuzz.rec")) {
        if (!strstr(ms_geterr(), "fuzz.rec")) abort();
        return 0;
    }
    ix_buf b = {0};
    index_encode_record(&b, &r);
    if (index_decode_record(b.buf, b.len, &back, "again.rec")) abort();
    if (back.unit != r.unit || back.n_top != r.n_top || back.n_quant != r.n_quant || back.n_plus != r.n_plus ||
        back.n_minus != r.n_minus || back.n_cross != r.n_cross)
        abort();
    for (int i = 0; i < r.n_top + r.n_quant; i++)
        if (back.ex[i].n != r.ex[i].n || back.ex[i].seg != r.ex[i].seg) abort();
    free(b.buf);
    index_record_free(&r);
    index_record_free(&back);
    return 0;
}
