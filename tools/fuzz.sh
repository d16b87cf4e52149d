#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
#   tools/fuzz.sh [SECONDS] [JUNIT_XML]
#
# Builds keel's libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in $KEEL_BUILD-fuzz,
# replays every committed reproducer and seed (each must pass: a reproducer is a bug that was
# fixed), then fuzzes each target for SECONDS (default 30; 0: replay only) on a scratch copy of
# its corpus, so that CI never writes into the repository. Exits non-zero on any crash, leak,
# UBSan report, timeout or OOM, naming the target and the artifact that triggers it. With
# JUNIT_XML, writes one testcase per target there for ./dev test's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
seconds=${1:-30}
junit=${2:-}
build=${KEEL_BUILD:-$repo/build}-fuzz
out=$build/fuzz-out
targets=(fuzz-unit-file fuzz-control fuzz-value)
# Longest input per target: a little over the unit file cap (64 KiB) and the request cap
# (512 bytes) so that both refusals stay covered; values are lines of a unit file.
declare -A max_len=([fuzz-unit-file]=66560 [fuzz-control]=600 [fuzz-value]=4096)

case $seconds in
'' | *[!0-9]*) echo "usage: $0 [SECONDS] [JUNIT_XML]" >&2; exit 2 ;;
esac
[ -z "$junit" ] || junit=$(realpath -m "$junit")

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

declare -A verdict=() detail=() took=()

write_junit() {
        [ -n "$junit" ] || return 0
        local failures=0 t
        for t in "${targets[@]}"; do
                [ "${verdict[$t]:-fail}" = pass ] || failures=$((failures + 1))
        done
        mkdir -p "$(dirname "$junit")"
        {
                echo '<?xml version="1.0" encoding="utf-8"?>'
                echo '<testsuites>'
                echo "<testsuite name=\"fuzz\" tests=\"${#targets[@]}\" failures=\"$failures\" errors=\"0\" skipped=\"0\">"
                for t in "${targets[@]}"; do
                        local msg=${detail[$t]:-did not run}
                        msg=$(printf '%s' "$msg" | sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g')
                        printf '<testcase classname="fuzz" name="%s" time="%s">' "$t" "${took[$t]:-0}"
                        if [ "${verdict[$t]:-fail}" = pass ]; then
                                printf '<system-out>%s</system-out>' "$msg"
                        else
                                printf '<failure message="%s"/>' "$msg"
                        fi
                        echo '</testcase>'
                done
                echo '</testsuite>'
                echo '</testsuites>'
        } >"$junit"
}

scratch=$(mktemp -d /tmp/keel-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch # what a target creates (fuzz-control's unit directory) goes with it

# clang with libFuzzer's runtime (Debian: libclang-rt-*-dev, only a Recommends of clang).
probe_clang() {
        printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d[0] && n; }\n' \
                >"$scratch/probe.c"
        clang -fsanitize=fuzzer,address,undefined "$scratch/probe.c" -o "$scratch/probe" 2>/dev/null
}
if ! command -v clang >/dev/null || ! probe_clang; then
        step "installing clang and libFuzzer"
        sudo=
        [ "$(id -u)" = 0 ] || sudo=sudo
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get install -y -qq clang libclang-rt-dev >/dev/null ||
                { $sudo apt-get update -qq && $sudo apt-get install -y -qq clang libclang-rt-dev >/dev/null; }
        probe_clang || { echo "fuzz: clang cannot link a libFuzzer target" >&2; exit 1; }
fi

step "fuzzers: build ($build)"
if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" -Dfuzzers=true -Db_sanitize=address,undefined -Db_lundef=false \
                -Dstatic_binaries=false >/dev/null
fi
if ! ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >/dev/null; then
        ninja -C "$build" "${targets[@]/#/tests/fuzz/}" || true
        for t in "${targets[@]}"; do detail[$t]="the fuzzers did not build"; done
        write_junit
        exit 1
fi

# UBSan only reports and goes on unless told to stop; stopping is what makes libFuzzer save the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
limits=(-rss_limit_mb=1024 -timeout=5)

# The sanitizer's or libFuzzer's report in a log, for the console.
show_report() {
        local first
        first=$(grep -n -m1 -E '^==[0-9]+==|runtime error:|^ALARM|^MS: ' "$1" | cut -d: -f1)
        if [ -n "$first" ]; then tail -n +"$first" "$1" | head -40; else tail -20 "$1"; fi >&2
}

# "1067080 runs (50813 exec/s), 851 of 1572 edges, 5571 features, 6736 new inputs": edges are
# the instrumented branches linked into the target (the core's included), features libFuzzer's
# finer measure (edges with hit counts, compared values).
fuzz_stats() {
        local log=$1 runs rate added cov ft edges
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
        edges=$(sed -n 's/^INFO: Loaded 1 modules *(\([0-9]*\) inline 8-bit counters.*/\1/p' "$log")
        cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
        ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
        echo "${runs:-?} runs (${rate:-?} exec/s), ${cov:-?} of ${edges:-?} edges, ${ft:-?} features, ${added:-?} new inputs"
}

rc=0
for t in "${targets[@]}"; do
        bin=$build/tests/fuzz/$t
        dir=$out/$t
        rm -rf "$dir" && mkdir -p "$dir/artifacts"
        start=$SECONDS

        step "fuzzers: $t: replay the seeds and reproducers"
        mapfile -t inputs < <(find "tests/fuzz/corpus/$t" "tests/fuzz/reproducers/$t" -type f \
                ! -name '.*' ! -name '*.md' 2>/dev/null | sort)
        if [ ${#inputs[@]} -gt 0 ] &&
                ! (cd "$dir/artifacts" && "$bin" "${limits[@]}" "${inputs[@]/#/$repo/}") >"$dir/replay.log" 2>&1; then
                failed=$(grep -oE '^Running: .*' "$dir/replay.log" | tail -1 | cut -d' ' -f2-)
                show_report "$dir/replay.log"
                echo "FAIL $t: committed input $failed fails (log: $dir/replay.log)" >&2
                verdict[$t]=fail detail[$t]="replay: $failed fails (log: $dir/replay.log)" took[$t]=$((SECONDS - start))
                rc=1
                continue
        fi
        if [ "$seconds" = 0 ]; then
                verdict[$t]=pass detail[$t]="replayed ${#inputs[@]} inputs" took[$t]=$((SECONDS - start))
                continue
        fi

        step "fuzzers: $t: $seconds s"
        corpus=$scratch/$t
        mkdir -p "$corpus"
        for i in "${inputs[@]}"; do cp "$i" "$corpus/$(echo "$i" | tr / _)"; done
        # Outer limit: libFuzzer's own -timeout covers one input, this the whole run.
        if timeout --signal=KILL $((seconds + 120)) "$bin" "${limits[@]}" -max_total_time="$seconds" \
                -max_len="${max_len[$t]}" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
                "$corpus" >"$dir/fuzz.log" 2>&1; then
                stats=$(fuzz_stats "$dir/fuzz.log")
                echo "$t: $stats" >&2
                verdict[$t]=pass detail[$t]="$stats"
        else
                show_report "$dir/fuzz.log"
                artifact=$(find "$dir/artifacts" -type f | head -1)
                echo "FAIL $t: ${artifact:-no artifact (killed?)} (log: $dir/fuzz.log)" >&2
                echo "     reproduce: $bin ${artifact:-...}; once fixed, add it to tests/fuzz/reproducers/$t/" >&2
                verdict[$t]=fail detail[$t]="crash: ${artifact:-no artifact} (log: $dir/fuzz.log)"
                rc=1
        fi
        took[$t]=$((SECONDS - start))
done

write_junit
exit $rc
