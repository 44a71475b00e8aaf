#!/bin/bash
# Co-simulations of the standard interfaces (issue 9 item 3): AXI4-Stream frames, double-buffered
# (the next sample streams while the current one computes), over the host bus and over Wishbone,
# under Verilator, Icarus and the native Verilator harness; then the same shd-snn runs on the
# single-buffered core of REF (a checkout of main before this change) for the before/after
# comparison.  From the repository root:
#   bash docs/experiments/cosim_interfaces.sh DATA_DIR [REF_CHECKOUT]
# (docs/results.md, "Standard interfaces: AXI4-Stream, double buffering, Wishbone").
set -u
D=${1:-../shared/data}
REF=${2:-}
run() {  # name sim preset train test batch options...
  name=$1; sim=$2; preset=$3; tr=$4; te=$5; b=$6; shift 6
  echo "=== $(date -u +%H:%M:%S) $name $sim $preset $* (train $tr, test $te, B $b)"
  nice -n 10 intsnn cosim --preset "$preset" --sim "$sim" --data-dir "$D" --train-samples "$tr" \
      --test-samples "$te" --batch-size "$b" "$@" --out "runs/interfaces/$name-$sim"
  echo "=== rc $? $(date -u +%H:%M:%S)"
}
run shd-snn                  verilator        shd-snn  32 16 8
run shd-snn                  icarus           shd-snn  12 6 4
run shd-rsnn-feedback         verilator        shd-rsnn 32 16 8 --error feedback
run shd-rsnn-feedback         icarus           shd-rsnn 6 3 3 --error feedback
run shd-snn                  verilator-native shd-snn  32 16 8
run shd-snn-wishbone         verilator        shd-snn  32 16 8 --bus wishbone
run shd-snn-wishbone         icarus           shd-snn  12 6 4 --bus wishbone
run mnist-snn                verilator        mnist-snn 32 16 8
if [ -n "$REF" ]; then   # before: the single-buffered core, same samples
  for preset in shd-snn mnist-snn; do
    echo "=== $(date -u +%H:%M:%S) reference $REF $preset"
    PYTHONPATH=$REF nice -n 10 intsnn cosim --preset $preset --sim verilator \
        --data-dir "$D" --train-samples 32 --test-samples 16 --batch-size 8 \
        --build-dir runs/interfaces/ref-build --out runs/before/$preset-verilator
    echo "=== rc $? $(date -u +%H:%M:%S)"
  done
fi
