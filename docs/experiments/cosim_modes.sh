#!/bin/bash
# Co-simulations of the error modes, losses, clip order and post-reset RSNN (issue 8 items 3, 5),
# one after the other, from the repository root: bash docs/experiments/cosim_modes.sh DATA_DIR
# (docs/results.md, "Error modes, losses, clip order and post-reset RSNN in hardware").
set -u
D=${1:-../shared/data}
run() {  # name sim preset train test batch options...
  name=$1; sim=$2; preset=$3; tr=$4; te=$5; b=$6; shift 6
  echo "=== $(date -u +%H:%M:%S) $name $sim $preset $* (train $tr, test $te, B $b)"
  nice -n 10 intsnn cosim --preset "$preset" --sim "$sim" --data-dir "$D" --train-samples "$tr" \
      --test-samples "$te" --batch-size "$b" "$@" --out "runs/modes/$name-$sim"
  echo "=== rc $? $(date -u +%H:%M:%S)"
}
for sim in verilator icarus; do
  if [ "$sim" = verilator ]; then n="32 16 8"; else n="12 6 4"; fi   # Icarus is ~20x slower
  run mnist-snn-random          $sim mnist-snn $n --loss random
  run mnist-snn-positive        $sim mnist-snn $n --loss positive
  run mnist-snn-final-positive  $sim mnist-snn $n --error final --loss positive
  run shd-rsnn-feedback-random  $sim shd-rsnn  $n --error feedback --loss random
  run shd-snn-feedback          $sim shd-snn   $n --error feedback
  run mnist-snn-clip-then-shift $sim mnist-snn $n --clip-order clip_then_shift
  run shd-rsnn-post-reset       $sim shd-rsnn  $n --rec-source post_reset
done
run shd-rsnn-feedback-random-128 verilator shd-rsnn  128 64 16 --error feedback --loss random
run mnist-snn-final-random-128   verilator mnist-snn 128 64 16 --error final --loss random
