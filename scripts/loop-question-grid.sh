#!/usr/bin/env bash
# Issue 27's grid (docs/results.md, "The loop question again"), in the order it is read:
# seed 0 of every candidate on every set first (it sizes the rest), then seeds 1 and 2, then
# seeds 3 and 4 of the candidates under the cost cap; then, once the rule has been read that far,
# the warm-started full-cost loop (seeds 0-2; its final model trained fresh, and with _all
# warm-started too) and the 5% and 20% budgets of random and the two best. Every `alsel study`
# call skips the runs already kept, so rerunning this script resumes the grid where it stopped.
# One fine-tuning at a time on one core: two torch processes on a 2-core machine slow each
# other several-fold. From the repository root:
#   bash scripts/loop-question-grid.sh [PHASE ...]     (phases: seed0 seeds12 seeds34; default all)
#   WARM=cluster_margin_warm bash scripts/loop-question-grid.sh warm     (or badge_warm: the better full-cost loop's)
#   BEST=kmeans,typiclust bash scripts/loop-question-grid.sh curves      (the two best by the rule)
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
SETS="sms_spam emotion banking77 sst2"
CANDIDATES="typiclust,cluster_margin_proxy,badge_proxy,kmeans_margin,cluster_margin,badge"
# the candidates whose cost passes the cap after seeds 0-2 (set UNDER_CAP to what the cost table says)
UNDER_CAP=${UNDER_CAP:-typiclust,cluster_margin_proxy,badge_proxy}
study() { taskset -c "${ALSEL_CORE:-0}" alsel study "configs/converged/$1.yaml" --seeds "$2" --strategies "$3" "${@:4}"; }
need() { [ -n "${!1:-}" ] || { echo "phase $2 needs $1 (see the usage above)" >&2; exit 2; }; }
phases=("$@"); [ ${#phases[@]} -gt 0 ] || phases=(seed0 seeds12 seeds34)
for phase in "${phases[@]}"; do
  for set in $SETS; do
    case $phase in
      seed0) study "$set" 0 "$CANDIDATES" ;;
      seeds12) study "$set" 1,2 "$CANDIDATES" ;;
      seeds34) study "$set" 3,4 "$UNDER_CAP" ;;
      warm) need WARM warm; study "$set" 0,1,2 "$WARM,${WARM}_all" ;;
      curves) need BEST curves; study "$set" 0,1,2,3,4 "random,$BEST" --budgets 0.05,0.2 ;;
      *) echo "unknown phase: $phase" >&2; exit 2 ;;
    esac
  done
done
