#!/usr/bin/env bash
# Submits a sharded twinverify batch as a Slurm job array plus a merge job that runs after it:
#   submit.sh [--wait] lrom SPEC OUTDIR N [extra sbatch args]
#   submit.sh [--wait] instances INSTANCES_CSV OUTDIR N [extra sbatch args]
# Task K of the array (0..N-1) runs shard K/N into OUTDIR/shard-K.{jsonl,csv} (log
# OUTDIR/slurm-ARRAYID_K.out); merge.sbatch then writes OUTDIR/merged.{jsonl,csv,json}, its
# summary going to OUTDIR/merge-JOBID.out (stderr: merge-JOBID.err). The extra sbatch args
# (e.g. --partition=..., --time=...) apply to both jobs. TWINVERIFY names the binary (default:
# twinverify on PATH). Prints the two job ids; with --wait, waits for the merge job and exits
# non-zero unless it completed with exit code 0.
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
die() { echo "submit.sh: $*" >&2; exit 1; }

WAIT=0
args=()
for a in "$@"; do
  if [ "$a" = --wait ]; then WAIT=1; else args+=("$a"); fi
done
[ ${#args[@]} -ge 4 ] || die "usage: submit.sh [--wait] lrom|instances SPEC|INSTANCES_CSV OUTDIR N [sbatch args]"
set -- "${args[@]}"
KIND=$1 INPUT=$2 OUTDIR=$3 N=$4
shift 4
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$N'"
[ -e "$INPUT" ] || die "$INPUT does not exist"
# passed through the environment (--export=ALL), so paths may contain commas
case "$KIND" in
  lrom) export SPEC; SPEC=$(realpath "$INPUT"); SCRIPT=lrom-array.sbatch ;;
  instances) export INSTANCES; INSTANCES=$(realpath "$INPUT"); SCRIPT=instances-array.sbatch ;;
  *) die "unknown kind '$KIND' (lrom or instances)" ;;
esac
TWINVERIFY=$(command -v "${TWINVERIFY:-twinverify}") || die "twinverify binary not found (set TWINVERIFY)"
export TWINVERIFY OUT SHARDS=$N
TWINVERIFY=$(realpath "$TWINVERIFY")
mkdir -p "$OUTDIR"
OUT=$(cd "$OUTDIR" && pwd)

ARRAY=$(sbatch --parsable --export=ALL --array="0-$((N - 1))" --output="$OUT/slurm-%A_%a.out" "$@" "$DIR/$SCRIPT")
ARRAY=${ARRAY%%;*}
MERGE=$(sbatch --parsable --export=ALL --dependency="afterok:$ARRAY" --kill-on-invalid-dep=yes \
  --output="$OUT/merge-%j.out" --error="$OUT/merge-%j.err" "$@" "$DIR/merge.sbatch")
MERGE=${MERGE%%;*}
echo "array job $ARRAY ($N tasks), merge job $MERGE, output in $OUT"
[ "$WAIT" = 1 ] || exit 0

field() { scontrol show job "$MERGE" 2>/dev/null | grep -o "\b$1=[^ ]*" | head -n 1 | cut -d= -f2; }
while :; do
  state=$(field JobState)
  case "$state" in
    PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUED|RESIZING|SUSPENDED)
      if [ "$(field Reason)" = DependencyNeverSatisfied ]; then
        scancel "$MERGE"
        die "the array job $ARRAY failed, merge job $MERGE cancelled; see $OUT/slurm-${ARRAY}_*.out"
      fi
      sleep 1 ;;
    COMPLETED)
      [ "$(field ExitCode)" = 0:0 ] || die "merge job $MERGE exit code $(field ExitCode)"
      echo "merge job $MERGE completed: $OUT/merged.csv"
      exit 0 ;;
    "") die "merge job $MERGE is no longer known to slurmctld" ;;
    *) die "merge job $MERGE ended $state (reason $(field Reason)); see $OUT/slurm-${ARRAY}_*.out and $OUT/merge-$MERGE.err" ;;
  esac
done
