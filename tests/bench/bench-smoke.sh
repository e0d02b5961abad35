#!/bin/sh
# Format check of the benchmark table (bench/bench.sh --quick): every row is
# there, every measured cell is a number or n/a with a note that exists,
# every ratio is a number or "-", raw.tsv and report.md agree.  No timing
# is judged: the numbers are whatever this host gives.
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/tests/bench
rows="null-syscall ctx-switch page-fault cli-sti pushf-popf inb int-iret cr0-rw cr3-reload compute
transport: int3 trip|transport: #GP trip|transport: #PF + map|transport: map op"
n=0
failed=0

# check OK DESCRIPTION: one TAP line.
check() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=1
    fi
}

rm -rf "$out"
mkdir -p "$out"
"$top/bench/bench.sh" --quick --out "$out" >"$out/table.txt" 2>"$out/bench.err"
check $? "bench.sh --quick exits with status 0"
for f in raw.tsv report.md; do
    [ -s "$out/$f" ]
    check $? "$f written"
done

# The Markdown table's rows: "| label | 4 measured cells | 5 ratios |".
md_rows=$(grep '^| ' "$out/report.md" | sed 1d)
notes=$(sed -n 's/^\([0-9][0-9]*\)\. .*/\1/p' "$out/report.md")

# Row labels, one per line.
printf '%s\n' "$rows" | head -n 1 | tr ' ' '\n' >"$out/rows.expected"
printf '%s\n' "$rows" | sed -n 2p | tr '|' '\n' >>"$out/rows.expected"

while IFS= read -r label; do
    line=$(printf '%s\n' "$md_rows" | awk -F' [|] ' -v l="$label" '{ sub(/^[|] /, ""); if ($1 == l) { print; exit } }')
    if [ -z "$line" ]; then
        check 1 "row '$label' in report.md"
        continue
    fi
    bad=$(printf '%s\n' "$line" | awk -F' [|] ' -v notes=" $(echo $notes) " '
        { sub(/ [|]$/, "") }
        NF != 10 { print "has " NF " cells, expected 10"; exit }
        {
            for (i = 2; i <= 5; i++) {
                c = $i
                if (c ~ /^n\/a \[[0-9]+\]$/ || c ~ /^-?[0-9]+ \(-?[0-9]+(\.[0-9]+)?\)( \[[0-9]+\])?$/) {
                    if (match(c, /\[[0-9]+\]/)) {
                        k = substr(c, RSTART + 1, RLENGTH - 2)
                        if (index(notes, " " k " ") == 0) { print "cell " i ": note [" k "] is not defined"; exit }
                    }
                } else { print "cell " i ": \"" c "\" is neither a number nor n/a with a note"; exit }
            }
            for (i = 6; i <= 10; i++)
                if ($i !~ /^([0-9]+(\.[0-9]+)?|-)$/) { print "ratio " i ": \"" $i "\""; exit }
        }')
    [ -z "$bad" ]
    check $? "row '$label': every cell a number or n/a with a note, every ratio a number or -${bad:+ ($bad)}"
    grep -q -F -- "$label" "$out/table.txt"
    check $? "row '$label' in the text table"
done <"$out/rows.expected"

# Every note is a real reason, not empty.
empty=$(sed -n 's/^\([0-9][0-9]*\)\.[[:space:]]*$/\1/p' "$out/report.md")
[ -z "$empty" ]
check $? "every note has a text${empty:+ (empty: $empty)}"

# raw.tsv: one line per row and column, numbers or n/a with a note.
bad=$(awk -F'\t' '
    /^#/ || $1 == "row" { next }
    { count++ }
    !bad && $4 != "n/a" && $4 !~ /^-?[0-9]+$/ { bad = "row " $1 " column " $3 ": cycles \"" $4 "\"" }
    !bad && $4 == "n/a" && $11 == "" { bad = "row " $1 " column " $3 ": n/a without a reason" }
    END { if (bad) print bad; else if (count != 14 * 4) print count " data lines, expected " 14 * 4 }' "$out/raw.tsv")
[ -z "$bad" ]
check $? "raw.tsv has 4 columns for each of the 14 rows, numbers or n/a with a reason${bad:+ ($bad)}"

# Below the table: host mapping operations per guest page fault and per
# context switch, counted by the mmu plugin's workload (numbers, default row).
grep -E -q '^    fault-around 16 \(default\) +faults +[0-9]+ +ops/fault [0-9.]+ +ops/switch [0-9.]+' \
    "$out/report.md"
check $? "report.md gives mapping operations per guest page fault and per context switch"

[ "$failed" -eq 0 ] || echo "# output: $out (table.txt, report.md, raw.tsv, bench.err)"
echo "1..$n"
