#!/usr/bin/env bash
# libFuzzer campaign over fcstore's parsers of hostile input: the CSV parser,
# the safetensors, npz and JSON model readers, and the bundle importer.
#
#   Tests/reliability/fuzz.sh [SECONDS_PER_TARGET=180] [TARGETS="csv safetensors npz json bundle"]
#   RUNS=1000000 Tests/reliability/fuzz.sh 0 json    # a fixed number of runs instead of a time
#
# Builds Sources/FuzzTargets with -sanitize=fuzzer,address into .build-fuzz,
# starts each target from the seed corpus in Tests/reliability/corpus/TARGET
# (copied to a scratch folder, so the repository is not touched), and prints
# executions, coverage and crashes per target. Crash inputs are kept in
# .build-fuzz/crashes/TARGET; replay one with
#   swift run fcstore-fuzz TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-180}
TARGETS=${2:-"csv safetensors npz json bundle"}

swift build -c release --product fcstore-fuzz --build-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 | tail -1
FUZZER=.build-fuzz/release/fcstore-fuzz
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

printf '%-12s %8s %12s %10s %8s %8s\n' target seconds executions exec/s cov crashes
for target in $TARGETS; do
    mkdir -p "$SCRATCH/$target" ".build-fuzz/crashes/$target"
    cp Tests/reliability/corpus/"$target"/* "$SCRATCH/$target/"
    max_len=65536
    [ "$target" = csv ] && max_len=4096
    log="$SCRATCH/$target.log"
    status=0
    limit="-max_total_time=$SECONDS_PER_TARGET"
    [ -n "${RUNS:-}" ] && limit="-runs=$RUNS"
    FCSTORE_FUZZ_TARGET=$target "$FUZZER" "$SCRATCH/$target" \
        "$limit" -max_len=$max_len -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix=".build-fuzz/crashes/$target/" >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
    crashes=$(ls ".build-fuzz/crashes/$target" | wc -l)
    printf '%-12s %8s %12s %10s %8s %8s\n' "$target" "$SECONDS_PER_TARGET" "$execs" "$rate" "$cov" "$crashes"
    if [ "$status" -ne 0 ]; then
        echo "  $target exited $status; the report:" && grep -E 'ERROR|SUMMARY|Fatal error|==[0-9]+==' "$log" | head -5
    fi
done
