#!/usr/bin/python3
"""Edges of lumen-npu (hw/misc/lumen/*.c) that fuzzing runs covered, per
file, from libFuzzer's -print_coverage=1 output (COVERED_FUNC /
UNCOVERED_FUNC lines). Usage: coverage-summary.py LOG...
With several logs (runs of different targets), a function counts with the
most edges any run covered in it: a lower bound of their union."""

import collections
import re
import sys

LINE = re.compile(r'^(UN)?COVERED_FUNC: hits: \d+ edges: (\d+)/(\d+) (\S+) '
                  r'(\S+):\d+')


def main():
    funcs = {}                  # (file, function) -> [covered, edges]
    for log in sys.argv[1:]:
        with open(log, errors='replace') as f:
            for line in f:
                m = LINE.match(line)
                if not m or '/hw/misc/lumen/' not in m.group(5):
                    continue
                key = (m.group(5).rsplit('/', 1)[1], m.group(4))
                st = funcs.setdefault(key, [0, int(m.group(3))])
                st[0] = max(st[0], int(m.group(2)))
    per = collections.defaultdict(lambda: [0, 0, 0, 0])
    for (name, _), (cov, edges) in funcs.items():
        st = per[name]
        st[0] += cov
        st[1] += edges
        st[2] += cov > 0
        st[3] += 1
    tot = [sum(v[i] for v in per.values()) for i in range(4)]
    if not tot[1]:
        sys.exit('coverage-summary: no lumen-npu functions in ' +
                 ' '.join(sys.argv[1:]))
    for name in sorted(per):
        e, n, fc, fn = per[name]
        print('%-22s edges %5d/%-5d %3d%%  functions %3d/%d' % (
            name, e, n, 100 * e // n if n else 0, fc, fn))
    print('%-22s edges %5d/%-5d %3d%%  functions %3d/%d' % (
        'lumen-npu', tot[0], tot[1], 100 * tot[0] // tot[1], tot[2], tot[3]))


if __name__ == '__main__':
    main()
