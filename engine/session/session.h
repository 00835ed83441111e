/* session.h — the state a user works in and the command interpreter over it.
 * Batch mode and the explorer both drive a session through sess_exec(); what a
 * command prints goes through the session's output callback. No terminal code. */
#ifndef MS_SESSION_H
#define MS_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "rng.h"
#include "sampler.h"
#include "glp.h"
#include "glp_ode.h"
#include "glpconfig.h"
#include "sae.h"
#include "lexicon.h"
#include "steer.h"
#include "transformer.h"

/* What `steer` turns on for gen (and what compare varies): vector index
 * (-1 = off), alpha as a ratio of the layer's mean residual norm, and the
 * optional GLP projection (u, grid points; solved with the session's glp_ode). */
typedef struct {
    int vec;
    double ratio;
    bool glp;
    float u;
    int steps;
} sess_steer;

typedef void (*sess_out_fn)(void *ctx, const char *text, size_t len);

/* ---- front-end hook: compare reports each (alpha, method) row as soon as it
 * is computed, so a front end can draw the sweep without parsing text. */
typedef struct {
    int row, rows;            /* this row's index (0-based) and the sweep's total */
    double alpha;
    bool glp;                 /* false: plain addition; true: +GLP projection */
    double fluency, concept;  /* concept is NaN when there is no category */
    const char *text;         /* the first sample's continuation (not NUL-terminated) */
    size_t len;
    const char *vec;          /* the vector's name */
} sess_compare_row;
typedef void (*sess_compare_fn)(void *ctx, const sess_compare_row *r);
/* ---- front-end hook: long evaluations (probe, frontier) report progress
 * lines, e.g. "probe: 2/5 noun.food" or "frontier: 12/48 continuations". */
typedef void (*sess_progress_fn)(void *ctx, const char *line);

/* A corpus statistic of the loaded model, measured or read from the disk
 * cache (sess_stats.c), under its full cache key. */
typedef struct {
    char *key;
    int layer;
    double value;
    long tokens;  /* the sample it was measured on */
    int docs;
    bool cached;  /* read from the cache (else measured in this session) */
} sess_stat;

typedef struct session {
    tf_model model;
    bool has_model;
    tf_state st;
    sampler smp;
    sampler_cfg scfg;
    rng_t rng;
    unsigned long long seed;
    int layer;       /* residual hook layer, default the middle block */
    int gen_tokens;  /* default N for `gen` */
    int ctx;         /* KV cache length (0 = model maximum, capped at 2048) */
    int threads;
    int bos;         /* 1 prepend BOS, 0 never, -1 auto (Llama with a BOS id) */
    bool stop_at_eos; /* gen ends at the end-of-text token */
    bool glp_bf16;   /* set glp_dtype bf16: GLPs are held in BF16 (glp_hold_bf16) */
    bool json;
    char *prompt;
    int *prompt_ids; /* BOS included when used */
    int n_prompt;
    bool *unsampleable; /* [vocab]: ids the tokenizer cannot decode (padding) */
    glp_model glp;      /* the generative meta-model of one layer's residuals */
    glp_file_config glp_cfg;
    glp_work *glp_work;
    glp_ode glp_ode;    /* set glp_sampler / glp_evals: how projections (and sample) solve the ODE */
    bool has_glp;
    char *glp_path;
    sae_model sae;      /* a sparse autoencoder of one layer's residuals */
    sae_work *sae_work;
    bool has_sae;
    char *sae_path;
    steer_vec *vecs;    /* named steering vectors of the loaded model */
    int n_vecs;
    sess_steer steer;   /* applied by gen */
    corpus_split *corpus; /* the bundled corpus' train split, loaded on first need */
    corpus_split *corpus_test; /* and its test split (held-out samples of concepts) */
    lexicon *lex;       /* concept lexicons built so far */
    int n_lex;
    sess_stat *stats;   /* corpus statistics known for this model (sess_stats.c) */
    int n_stats;
    bool cache_off;     /* `set cache off`: neither read nor write the disk cache */
    uint64_t digest;    /* the model folder's identity (model_digest.h), once known */
    bool has_digest;
    /* ---- top-activating examples index (index.h, cmd_index.c) */
    struct ms_index *index; /* NULL until 'load index PATH' */
    struct probe_result *probe_last; /* the last probe table (probe.h), for a front end's pane */
    unsigned index_gen;     /* bumped by each load (front ends' caches) */
    sess_out_fn out;
    void *out_ctx;
    volatile sig_atomic_t *cancel; /* set asynchronously (Ctrl-C) to stop long work */
    bool quit;
    /* ---- the last steering frontier (frontier.h), for a front end's pane */
    struct frontier_result *frontier_last;
    /* ---- named token-label concepts and the active one (cmd_concept.c) */
    struct sess_concept *concepts;
    int n_concepts;
    int concept_on;          /* index of the active concept, or -1 */
    unsigned models_gen;     /* bumped by each model / GLP / SAE load: trained classifiers go stale */
    /* ---- front-end hook (NULL in batch mode): see sess_compare_row */
    sess_compare_fn compare_row;
    void *compare_ctx;
    sess_progress_fn progress; /* NULL in batch mode: see sess_progress_fn */
    void *progress_ctx;
} session;

void sess_init(session *S, sess_out_fn out, void *out_ctx);
void sess_free(session *S);
/* Execute one command line (no ';' splitting). Returns 0, or -1 with
 * ms_geterr() describing the problem. */
int sess_exec(session *S, const char *line);
/* Execute a line of ';'-separated commands (quotes protect ';'); stops at the
 * first error, or after a command during which *cancel was set. */
int sess_exec_multi(session *S, const char *line);
/* The next command of a ';'-separated line (quotes protect ';'), malloc'd,
 * advancing *line past it; NULL at the end of the line. */
char *sess_next_command(const char **line);
int sess_load_model(session *S, const char *dir);
/* Loads a GLP folder; its d_input must match the model's d_model, and the
 * session's layer moves to the GLP's layer. */
int sess_load_glp(session *S, const char *dir);
/* Loads an SAE folder (SAELens or sparsify layout; a sparsify parent folder
 * is read at the current layer); its d_in must match the model's d_model and
 * its hook must map to one of the model's blocks (a hook-less SAE is taken to
 * read the current layer). */
int sess_load_sae(session *S, const char *dir);
/* Opens an index folder built for the loaded model (same vocabulary);
 * replaces the loaded index. */
int sess_load_index(session *S, const char *dir);
/* The layer a loaded GLP models (its config's first hook layer). */
int sess_glp_layer(const session *S);
/* Whether the prompt starts with BOS (auto: Llama models with a BOS id). */
bool sess_use_bos(const session *S);
/* Tokenizes text (BOS prepended when used); *ids malloc'd. */
int sess_encode(session *S, const char *text, int **ids, int *n);
/* Sets the prompt (refused, keeping the old one, when it is empty or longer
 * than the context) without running it. */
int sess_set_prompt(session *S, const char *text, const char *cmd);
/* Runs the prompt from an empty cache; the last position's logits end up in
 * S->st.logits. */
int sess_run_prompt(session *S, const char *cmd);
/* Runs the prompt with layer `layer`'s rows (HOOK_RESID or HOOK_MLP)
 * captured into buf[n_prompt, width]; the last logits end up in S->st.logits. */
int sess_capture_prompt(session *S, tf_hook_kind kind, int layer, float *buf, int width, const char *cmd);
/* Runs the prompt, then samples up to n tokens into out[n]: streams each
 * token's bytes through the output callback when stream is set, stops at
 * end-of-text (unless told not to), on cancel, or after n; slides the context
 * (keeping BOS) when it fills. *k receives the count; seconds spent on the
 * prompt and on decoding go to prefill_s / decode_s when not NULL. */
int sess_generate(session *S, int n, int *out, int *k, bool stream, double *prefill_s, double *decode_s);
/* The same with explicit steering (NULL or vec -1: none). */
int sess_generate_steered(session *S, int n, int *out, int *k, bool stream, const sess_steer *sp, double *prefill_s,
                          double *decode_s);

/* ---- steering support (sess_steer.c) */
/* The bundled corpus' train split (loaded once). */
int sess_corpus(session *S, corpus_split **c, const char *cmd);
/* Its test split (loaded once). */
int sess_corpus_test(session *S, corpus_split **c, const char *cmd);
/* The concept lexicon of a category (against another, or the rest: NULL). */
const lexicon *sess_lexicon(session *S, const char *category, const char *against, const char *cmd);
/* ---- token-label concepts (cmd_concept.c) */
/* Frees the named concepts and their classifiers. */
void sess_free_concepts(session *S);
/* ---- corpus statistics (sess_stats.c) */
/* Mean residual norm at `layer` over positions >= 1 of a seeded sample of
 * training documents: the unit of steering strength. Measured once per model,
 * layer and sample (progress through S->progress, cancellable), then kept in
 * memory and in the disk cache (statcache.h) unless `set cache off`. */
int sess_mean_norm(session *S, int layer, double *out, const char *cmd);
/* The same when it is known without running the model (memory or disk
 * cache): returns true and sets *out, else false. */
bool sess_known_norm(session *S, int layer, double *out);
/* The disk cache folder in use, or NULL (off, or no $HOME). buf[n]. */
const char *sess_cache_dir(const session *S, char *buf, size_t n);
/* Drops what is known about the loaded model (on load and unload). */
void sess_forget_stats(session *S);
/* The vector named `name`, or NULL. */
steer_vec *sess_find_vec(session *S, const char *name);
/* Adds (or replaces) a vector; takes ownership of v->v. */
steer_vec *sess_put_vec(session *S, const steer_vec *v);
void sess_clear_steering(session *S);

/* Formatted output through the callback. */
void sess_printf(session *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Command names and one-line synopses, for help and completion. */
typedef struct {
    const char *name, *synopsis, *help;
} sess_cmd_info;
const sess_cmd_info *sess_commands(int *n);

#endif
