#!/usr/bin/env python3
"""Checks the source tree's shape (issue 9): prints PASS:/FAIL: lines.
- no two files include each other, directly or through a longer circle of #include;
- the parts (one folder each) depend on each other one way only: the folder graph built
  from the #include lines has no cycle;
- no C source or header is longer than MAX_LINES, except the ones listed in ONE_OBJECT
  with the reason (a file that is one object, as iproute2's are)."""
import os, re, sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DIRS = ['agent', 'broker', 'common', 'globalnet', 'bpf']
MAX_LINES = 800
ONE_OBJECT = {}   # path -> why it may be longer
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)

def sources():
    for d in DIRS:
        for dp, _, fs in os.walk(os.path.join(ROOT, d)):
            for f in fs:
                if f.endswith(('.c', '.h')):
                    yield os.path.relpath(os.path.join(dp, f), ROOT)

def part(path):
    """A file's part: its folder; a lib/ folder of helpers belongs to the part above it."""
    d = os.path.dirname(path)
    return os.path.dirname(d) if os.path.basename(d) == 'lib' else d

def cycles(graph):
    """Every cycle found by a DFS, as a list of nodes (one per strongly connected set)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))
    for v in list(graph):
        if v not in index:
            visit(v)
    return out

def main():
    files = sorted(sources())
    fgraph, pgraph, failed, big = {}, {}, False, []
    for f in files:
        txt = open(os.path.join(ROOT, f), errors='replace').read()
        incs = [i for i in INC.findall(txt) if os.path.exists(os.path.join(ROOT, i))]
        fgraph[f] = set(incs)
        for i in incs:
            if part(i) != part(f) and not i.startswith('build/'):
                pgraph.setdefault(part(f), set()).add(part(i))
        n = txt.count('\n')
        if n > MAX_LINES and f not in ONE_OBJECT:
            print(f'FAIL: layout:files_under_{MAX_LINES}_lines {f} has {n}')
            big.append(f)
            failed = True
    c = cycles(fgraph)
    if c:
        for comp in c:
            print('FAIL: layout:no_include_cycle ' + ' <-> '.join(comp))
        failed = True
    else:
        print(f'PASS: layout:no_include_cycle ({len(files)} files)')
    c = cycles(pgraph)
    if c:
        for comp in c:
            print('FAIL: layout:parts_one_way ' + ' <-> '.join(comp))
            for a in comp:
                for b in sorted(pgraph.get(a, ())):
                    if b in comp:
                        who = [f for f in files if part(f) == a and any(part(i) == b for i in fgraph[f])]
                        print(f'    {a} -> {b}: {", ".join(who)}')
        failed = True
    else:
        print(f'PASS: layout:parts_one_way ({len(pgraph)} parts)')
    if not big:
        print(f'PASS: layout:files_under_{MAX_LINES}_lines')
    return 1 if failed else 0

if __name__ == '__main__':
    sys.exit(main())
