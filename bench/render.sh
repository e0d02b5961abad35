#!/bin/sh
# Renders bench/bench.sh's raw.tsv as the benchmark table: aligned text on
# stdout and the same table as Markdown in REPORT.  usage: render.sh RAW REPORT
#
# A measured cell is "CYCLES (µs)", or "n/a"; a note number "[n]" follows
# when the cell needs explaining (every n/a has one).  Ratios are of the
# cycle counts; "-" where one side is missing.

[ $# -eq 2 ] || { echo "usage: render.sh RAW.tsv REPORT.md" >&2; exit 2; }
[ -r "$1" ] || { echo "render.sh: cannot read $1" >&2; exit 1; }

awk -F'\t' -v report="$2" '
    function fmt_us(u) {
        if (u < 0) return sprintf("%.2f", u)
        return u < 1 ? sprintf("%.3f", u) : u < 100 ? sprintf("%.2f", u) : sprintf("%.1f", u)
    }
    function fmt_ratio(a, b,    r) {
        if (a == "" || b == "" || a == "n/a" || b == "n/a" || a + 0 <= 0 || b + 0 <= 0) return "-"
        r = a / b
        return r < 0.1 ? sprintf("%.3f", r) : r < 10 ? sprintf("%.2f", r) : r < 100 ? sprintf("%.1f", r) : sprintf("%.0f", r)
    }
    function note_no(text) {
        if (text == "") return ""
        if (!(text in noteidx)) { noteidx[text] = ++nnotes; notes[nnotes] = text }
        return " [" noteidx[text] "]"
    }
    /^# / { meta[substr($1, 3)] = $2; next }
    $1 == "row" { next }
    {
        if (!($1 in seen)) { seen[$1] = 1; rows[++nrows] = $1; label[$1] = $2 }
        cyc[$1, $3] = $4
        us[$1, $3] = $6
        note[$1, $3] = $11
    }
    END {
        ncol = split("signal ptrace qemu native", col, " ")
        head[1] = "operation"; head[2] = "LilyVM signal"; head[3] = "LilyVM ptrace"
        head[4] = "QEMU TCG"; head[5] = "native"
        head[6] = "sig/QEMU"; head[7] = "ptr/QEMU"; head[8] = "QEMU/nat"; head[9] = "sig/nat"; head[10] = "ptr/nat"
        nf = 10
        for (r = 1; r <= nrows; r++) {
            id = rows[r]
            cell[r, 1] = label[id]
            for (c = 1; c <= ncol; c++) {
                k = col[c]
                v = cyc[id, k]
                cell[r, c + 1] = (v == "n/a" || v == "" ? "n/a" : sprintf("%s (%s)", v, fmt_us(us[id, k]))) \
                    note_no(v == "" ? "no result recorded" : note[id, k])
            }
            cell[r, 6] = fmt_ratio(cyc[id, "signal"], cyc[id, "qemu"])
            cell[r, 7] = fmt_ratio(cyc[id, "ptrace"], cyc[id, "qemu"])
            cell[r, 8] = fmt_ratio(cyc[id, "qemu"], cyc[id, "native"])
            cell[r, 9] = fmt_ratio(cyc[id, "signal"], cyc[id, "native"])
            cell[r, 10] = fmt_ratio(cyc[id, "ptrace"], cyc[id, "native"])
        }
        for (c = 1; c <= nf; c++) {
            w[c] = length(head[c])
            for (r = 1; r <= nrows; r++)
                if (length(cell[r, c]) > w[c]) w[c] = length(cell[r, c])
        }
        mhz = meta["tsc_hz"] / 1e6
        intro = sprintf("Median cost per operation in TSC cycles (%.1f MHz), microseconds in parentheses; ratios of the cycle counts.\nGuest rows: the test kernel in bench mode (LilyVM runs its rewritten build testkernel-lily.elf, QEMU the plain testkernel.elf); transport rows: LilyVM trap hand-over alone.", mhz)
        where = "Run " meta["date"] " on " meta["host"] (meta["qemu"] != "" ? "; " meta["qemu"] : "") \
            (meta["quick"] == 1 ? "; QUICK MODE (few iterations, numbers are rough)" : "") "."

        print intro
        print where
        print ""
        line = ""
        for (c = 1; c <= nf; c++)
            line = line sprintf(c == 1 ? "%-*s" : "  %*s", w[c], head[c])
        print line
        rule = ""
        for (c = 1; c <= nf; c++) {
            dash = sprintf("%*s", w[c], ""); gsub(/ /, "-", dash)
            rule = rule (c == 1 ? "" : "  ") dash
        }
        print rule
        for (r = 1; r <= nrows; r++) {
            line = ""
            for (c = 1; c <= nf; c++)
                line = line sprintf(c == 1 ? "%-*s" : "  %*s", w[c], cell[r, c])
            print line
        }
        print ""
        print "Notes:"
        for (i = 1; i <= nnotes; i++)
            printf "[%d] %s\n", i, notes[i]

        print "# LilyVM benchmark" > report
        print "" > report
        print intro > report
        print where > report
        print "" > report
        line = "|"; rule = "|"
        for (c = 1; c <= nf; c++) { line = line " " head[c] " |"; rule = rule (c == 1 ? "---|" : "---:|") }
        print line > report
        print rule > report
        for (r = 1; r <= nrows; r++) {
            line = "|"
            for (c = 1; c <= nf; c++) line = line " " cell[r, c] " |"
            print line > report
        }
        print "" > report
        print "Notes:" > report
        print "" > report
        for (i = 1; i <= nnotes; i++)
            printf "%d. %s\n", i, notes[i] > report
        close(report)
    }' "$1"
