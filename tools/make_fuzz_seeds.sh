#!/bin/sh
# make_fuzz_seeds.sh — (re)builds the fuzz seeds under tests/fuzz/seeds/ for
# the harnesses of issue #15 from real files: the fixtures, the bundled
# assets, and small folders written by metascope itself (an index, a harvest,
# a GLP checkpoint). Multi-file seeds join a folder's files with the line
# "--8<--" (tests/fuzz/folder.h). Run once from the repository root after
# `make`; the outputs are committed. Needs the lz4 command and /usr/bin/python3.
set -eu
MS=${MS_BIN:-build/metascope}
S=tests/fuzz/seeds
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
SEP=$(printf '\n--8<--\n_'); SEP=${SEP%_}

# join OUT FILE... — FILE "-" is an absent part
join() {
  out=$1; shift; first=1
  : >"$out"
  for f in "$@"; do
    [ $first = 1 ] || printf '%s' "$SEP" >>"$out"
    first=0
    [ "$f" = - ] || cat "$f" >>"$out"
  done
}

for h in lz4 hfconfig index index_record sae harvest checkpoint corpus probe_tasks gpt2_vocab rep_statistics budget; do
  rm -rf "$S/$h"; mkdir -p "$S/$h"
done

# lz4 frames: a bundled asset's and a few of our own, with and without content size
cp assets/model/tokenizer.json.lz4 "$S/lz4/tokenizer.json.lz4"
lz4 -q -9 --content-size tests/fixtures/models/gpt2_tiny/config.json "$S/lz4/config.json.lz4"
lz4 -q -1 --no-frame-crc tests/fixtures/glp_folder/config.yaml "$S/lz4/config.yaml.lz4"
lz4 -q -9 -B4 tests/fixtures/pt/single_f32.pt "$S/lz4/single_f32.pt.lz4"
printf '' | lz4 -q >"$S/lz4/empty.lz4"

# HF config.json
for m in tests/fixtures/models/*/; do cp "$m/config.json" "$S/hfconfig/$(basename "$m").json"; done
cp assets/model/config.json "$S/hfconfig/assets_model.json"

# index folder (MLP units of the tiny GPT-2, 256 of them: 145 KB) and its
# records. The fuzzer mutates a 9 KB folder instead (16 latents of an SAE
# trained here on the tiny GPT-2): at 145 KB an input cost ~2 ms. The big one
# is replayed by make test from tests/fixtures/fuzz/index/.
"$MS" index --model tests/fixtures/models/gpt2_tiny --corpus tests/fixtures/corpus_tiny --units mlp \
  --layer 0 --tokens 100 --k 2 --out "$tmp/ix" >/dev/null
printf 'mlp:0:3\tcomma\nmlp:0:7\t\n' >"$tmp/ix/labels.tsv"
mkdir -p tests/fixtures/fuzz/index
join tests/fixtures/fuzz/index/mlp_tiny "$tmp/ix/manifest.json" "$tmp/ix/tokens.safetensors.lz4" "$tmp/ix/records.bin" "$tmp/ix/labels.tsv"
"$MS" harvest --model tests/fixtures/models/gpt2_tiny --corpus tests/fixtures/corpus_tiny --tokens 2000 --layer 0 \
  --out "$tmp/sa" >/dev/null 2>&1
"$MS" train-sae --acts "$tmp/sa" --out "$tmp/ss" --latents 16 --k 2 --steps 50 >/dev/null 2>&1
"$MS" index --model tests/fixtures/models/gpt2_tiny --corpus tests/fixtures/corpus_tiny --units sae --sae "$tmp/ss/sae" \
  --layer 0 --tokens 60 --k 2 --out "$tmp/ixs" >/dev/null
printf 'sae:3\tcomma\n' >"$tmp/ixs/labels.tsv"
join "$S/index/sae_small" "$tmp/ixs/manifest.json" "$tmp/ixs/tokens.safetensors.lz4" "$tmp/ixs/records.bin" "$tmp/ixs/labels.tsv"
/usr/bin/python3 - "$tmp/ix/records.bin" "$tmp/rec" <<'PY'
import struct, subprocess, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack_from('<I', b, 12)[0]
for u in (0, 1, 7, n - 1):
    off, clen = struct.unpack_from('<QI', b, 24 + 24 * u)
    open(f'{sys.argv[2]}{u}.lz4', 'wb').write(b[off:off + clen])
PY
for f in "$tmp"/rec*.lz4; do lz4 -q -d "$f" "$S/index_record/$(basename "${f%.lz4}")"; done

# SAE folders: SAELens (cfg.json + sae_weights) and sparsify (cfg.json + sae)
for d in saelens_topk saelens_jumprelu saelens_standard; do
  join "$S/sae/$d" tests/fixtures/sae/$d/cfg.json tests/fixtures/sae/$d/sae_weights.safetensors -
done
join "$S/sae/sparsify" tests/fixtures/sae/sparsify/layers.0/cfg.json - tests/fixtures/sae/sparsify/layers.0/sae.safetensors

# harvest folder and a GLP training checkpoint made from it
"$MS" harvest --model tests/fixtures/models/gpt2_tiny --corpus tests/fixtures/corpus_tiny --tokens 60 \
  --shard-tokens 30 --out "$tmp/acts" >/dev/null
join "$S/harvest/two_shards" "$tmp/acts/manifest.json" "$tmp/acts/stats.safetensors" \
  "$tmp/acts/shard-00000.safetensors.lz4" "$tmp/acts/shard-00001.safetensors.lz4"
LC_ALL=C sed 's/"source":"[0-9a-f]*"/"source":"c74f4e02zz"/' "$S/harvest/two_shards" >"$S/harvest/bad_source"
printf '{"d_model": 8, "d_mlp": 16, "n_layers": 1, "batch": 8, "steps": 3, "heldout": 0.1, "eval_rows": 4}\n' >"$tmp/g.json"
"$MS" train-glp --acts "$tmp/acts" --config "$tmp/g.json" --out "$tmp/g" --max-steps 2 >/dev/null 2>&1
cp "$tmp/g/ckpt.safetensors" "$S/checkpoint/glp_tiny"

# corpus lines (the first documents of the tiny corpus)
head -n 20 tests/fixtures/corpus_tiny/train.jsonl >"$S/corpus/train20.jsonl"
printf '{"text":"a\\u0000b","source":"x"}\n\n{"text":"","category":"c"}\n' >"$S/corpus/odd.jsonl"

# probe tasks: the bundled file cut to two tasks of four examples
/usr/bin/python3 - assets/probe/tasks.json "$S/probe_tasks/tasks2.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
def cut(x):
    if isinstance(x, list): return [cut(v) for v in x[:4]]
    if isinstance(x, dict): return {k: cut(v) for k, v in x.items()}
    return x
json.dump(cut(j), open(sys.argv[2], 'w'))
PY

# GPT-2 vocab.json + merges.txt
join "$S/gpt2_vocab/gpt2_tiny" tests/fixtures/models/gpt2_tiny/vocab.json tests/fixtures/models/gpt2_tiny/merges.txt
[ -f tests/fixtures/tokenizer/gpt2/vocab.json ] &&
  join "$S/gpt2_vocab/gpt2_fixture" tests/fixtures/tokenizer/gpt2/vocab.json tests/fixtures/tokenizer/gpt2/merges.txt

# rep_statistics.pt: the GLP fixture's and the unpickler's fixtures
cp tests/fixtures/glp_folder/rep_statistics.pt "$S/rep_statistics/glp_folder.pt"
for f in tests/fixtures/pt/*.pt; do cp "$f" "$S/rep_statistics/"; done

# scaling budgets / train-glp configs
cp assets/scaling/s*.json tests/fixtures/glp-tiny.json assets/train-glp.json "$S/budget/"

# the command harness also loads and sets threads now
c=tests/fuzz/seeds/commands
printf 'load model tests/fixtures/models/llama_tiny; prompt hi; gen 2' >$c/load_model.txt
printf 'load glp tests/fixtures/glp_folder; sample 2' >$c/load_glp.txt
printf 'load sae tests/fixtures/sae/saelens_topk' >$c/load_sae.txt
printf 'set threads 2; prompt the cat; gen 3; set threads 1' >$c/threads.txt
printf 'load model tests/fixtures/glp_folder' >$c/load_wrong.txt
du -sh "$S"/*
