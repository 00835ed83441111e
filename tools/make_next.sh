#!/bin/sh
# make_next.sh — the default assets' rebuild on the two-stage LM (issue #12,
# docs/glp-quality.md section 21), in stages that each fit one 3-hour
# session and each land in assets/next/, so a session's end loses nothing:
# build/ does not outlive a session here, the repository does.
#   lm1     train-lm (assets/next/train-lm.json, 4800 steps) -> assets/next/lm1 (f32)
#   lm2     train-lm --init lm1 (assets/next/train-lm-2.json, 4800 more) -> assets/next/model (f16)
#   fisher  harvest of that model (build/next/acts, 2.5M EOS-free rows of layer 3),
#           metascope fisher -> assets/next/fisher-norm.safetensors
#   sae     train-sae -> assets/next/sae
#   glp1    train-glp --normalizer (assets/train-glp.json) -> assets/next/glp1 (f32)
#   glp2    train-glp --init glp1 (assets/train-glp-2.json) -> assets/next/glp2 (f32)
#   glp3    train-glp --init glp2 (assets/train-glp-3.json, 6 blocks) -> assets/next/glp3 (f32),
#           and packed again -> assets/next/glp (f16)
#   glp4    train-glp --init glp3 (assets/train-glp-4.json, 3000 more steps at lr 5e-4)
#           -> assets/next/glp4 (f16)
# Usage: sh tools/make_next.sh [STAGE...]   (default: every stage not done yet)
#        sh tools/make_next.sh save         (a training stage too long for one session)
# A stage is done when its output under assets/next/ exists; a stopped stage
# resumes from its checkpoint in build/next/. `save` copies the checkpoint of
# every stage in progress to assets/next/carry/STAGE, to be committed; the
# next session's run starts that stage from it, and removes it when the
# stage lands. The harvest is deterministic on one machine, so a later
# session re-harvests the same rows from the committed model; on another
# CPU its rows may differ in the last bit, and train-glp then refuses the
# carried checkpoint ("other settings"): delete the carry to redo that stage.
# Stage boundaries carry weights only (--init starts a fresh optimizer), so
# an f32 pack in between is lossless and the chain is the same as one run.
# NEXT, NEXT_WORK and the other NEXT_* settings exist for tests/e2e/next.sh.
set -eu
MS=${MS_BIN:-build/metascope}
N=${NEXT:-assets/next}
W=${NEXT_WORK:-build/next}
HARVEST=${NEXT_HARVEST:---layer 3 --tokens 2500000}
FISHER=${NEXT_FISHER:-}
SAE_CFG=${NEXT_SAE_CONFIG:-assets/train-sae.json}
GLP_CFG1=${NEXT_GLP_CONFIG1:-assets/train-glp.json}
GLP_CFG2=${NEXT_GLP_CONFIG2:-assets/train-glp-2.json}
GLP_CFG3=${NEXT_GLP_CONFIG3:-assets/train-glp-3.json}
GLP_CFG4=${NEXT_GLP_CONFIG4:-assets/train-glp-4.json}
mkdir -p "$W"
acts() {
  $MS harvest --model $N/model $HARVEST --out $W/acts --resume
}
MAX=${NEXT_MAX_STEPS:+--max-steps $NEXT_MAX_STEPS}
# restore STAGE: a stage carried over from an earlier session resumes from it
restore() {
  if [ ! -e "$W/$1" ] && [ -d "$N/carry/$1" ]; then
    echo "make_next.sh: $1 resumes from $N/carry/$1"
    cp -r "$N/carry/$1" "$W/$1"
  fi
}
# finished DIR STAGE: false (and says so) when --max-steps stopped it first
finished() {
  [ -e "$1" ] && return 0
  echo "make_next.sh: $2 stopped before its end; 'save' carries it to the next session"
  return 1
}
# landed STAGE: its output is in assets/next/, so its carry is done with
landed() { rm -rf "$N/carry/$1"; rmdir "$N/carry" 2>/dev/null || true; }
stage_lm1() {
  restore lm1
  $MS train-lm --config $N/train-lm.json --out $W/lm1 --resume $MAX
  finished $W/lm1/model lm1 || exit 0
  cp $W/lm1/loss.csv $N/loss.csv
  rm -rf $N/lm1.tmp
  $MS pack-model $W/lm1/model --out $N/lm1.tmp
  mv $N/lm1.tmp $N/lm1
  landed lm1
}
stage_lm2() {
  restore lm2
  $MS train-lm --config $N/train-lm-2.json --out $W/lm2 --init $N/lm1 --resume $MAX
  finished $W/lm2/model lm2 || exit 0
  cp $W/lm2/loss.csv $N/loss-2.csv
  rm -rf $N/model.tmp
  $MS pack-model $W/lm2/model --out $N/model.tmp --f16
  mv $N/model.tmp $N/model
  landed lm2
  $MS eval-lm $N/model --split test
}
stage_fisher() {
  acts
  $MS fisher --model $N/model --acts $W/acts $FISHER --out $W/fisher-norm.safetensors
  cp $W/fisher-norm.safetensors $N/fisher-norm.tmp
  mv $N/fisher-norm.tmp $N/fisher-norm.safetensors
}
stage_sae() {
  acts
  restore sae
  $MS train-sae --acts $W/acts --config "$SAE_CFG" --out $W/sae --resume $MAX
  finished $W/sae/sae sae || exit 0
  cp $W/sae/loss.csv $N/sae-loss.csv
  rm -rf $N/sae.tmp
  cp -r $W/sae/sae $N/sae.tmp
  mv $N/sae.tmp $N/sae
  landed sae
}
# glp STAGE CONFIG FROM-ARGS PACK-FLAGS OUT
glp() {
  acts
  restore $1
  $MS train-glp --acts $W/acts --config "$2" --out $W/$1 $3 --resume $MAX
  finished $W/$1/glp $1 || exit 0
  cp $W/$1/loss.csv $N/$1-loss.csv
  pack_glp $W/$1/glp "$N/$5" $4
  landed $1
}
# pack_glp SRC OUT [--f16]: through OUT.tmp, so OUT is never half-written
pack_glp() {
  rm -rf "$2.tmp"
  $MS pack-glp "$1" --out "$2.tmp" ${3:-}
  mv "$2.tmp" "$2"
}
stage_glp1() { glp glp1 "$GLP_CFG1" "--normalizer $N/fisher-norm.safetensors" "" glp1; }
stage_glp2() { glp glp2 "$GLP_CFG2" "--init $N/glp1" "" glp2; }
stage_glp3() { # f32 for glp4 to start from exactly, f16 to ship
  [ -e $N/glp3 ] || glp glp3 "$GLP_CFG3" "--init $N/glp2" "" glp3
  pack_glp $N/glp3 $N/glp --f16
}
stage_glp4() { glp glp4 "$GLP_CFG4" "--init $N/glp3" --f16 glp4; }
STAGES="lm1 lm2 fisher sae glp1 glp2 glp3 glp4"
done_path() {
  case $1 in
    lm1) echo $N/lm1 ;; lm2) echo $N/model ;; fisher) echo $N/fisher-norm.safetensors ;; sae) echo $N/sae ;;
    glp1) echo $N/glp1 ;; glp2) echo $N/glp2 ;; glp3) echo $N/glp ;; glp4) echo $N/glp4 ;;
  esac
}
# save: copy each training stage in progress (a checkpoint, no output yet)
save() {
  for s in lm1 lm2 sae glp1 glp2 glp3 glp4; do
    [ -f "$W/$s/ckpt.safetensors" ] && [ ! -e "$(done_path $s)" ] || continue
    mkdir -p "$N/carry"
    rm -rf "$N/carry/$s.tmp"
    cp -r "$W/$s" "$N/carry/$s.tmp"
    rm -rf "$N/carry/$s"
    mv "$N/carry/$s.tmp" "$N/carry/$s"
    echo "make_next.sh: saved $s to $N/carry/$s ($(du -sh "$N/carry/$s" | cut -f1)); commit it"
  done
}
if [ "${1:-}" = save ]; then
  save
  exit 0
fi
[ $# -gt 0 ] || set -- $STAGES
for s in "$@"; do # every name first: a typo must not start hours of training
  if [ -z "$(done_path "$s")" ]; then
    echo "make_next.sh: unknown stage '$s' ($STAGES)" >&2
    exit 2
  fi
done
for s in "$@"; do
  out=$(done_path "$s")
  if [ -e "$out" ]; then
    echo "make_next.sh: $s is done ($out)"
    continue
  fi
  echo "make_next.sh: stage $s"
  "stage_$s"
done
