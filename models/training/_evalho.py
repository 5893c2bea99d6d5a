import sys, export, generate, data
for name in sys.argv[1:]:
    m = export.load(f"out/{name}")
    pairs = data.read_split("../eval/heldout.tsv")
    outs = generate.greedy_text(m, [s for s,_ in pairs])
    ok = sum(o==w for o,(_,w) in zip(outs,pairs))
    print(name, ok, len(pairs))
    for o,(s,w) in zip(outs,pairs):
        if o!=w: print("  ", s, "|", w, "|", o)
