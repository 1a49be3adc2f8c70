#!/usr/bin/python3
# Opens a vmcore with drgn (no debug info) and prints, as JSON, its program flags and the physical memory asked for.
import json
import sys

import drgn

path = sys.argv[1]
prog = drgn.Program()
out = {"flags": str(prog.flags)}
try:
    prog.set_core_dump(path)
    out["flags"] = str(prog.flags)
    reads = {}
    for arg in sys.argv[2:]:
        addr, size = (int(x, 0) for x in arg.split("+"))
        try:
            reads[arg] = prog.read(addr, size, True).hex()
        except drgn.FaultError as err:
            reads[arg] = "fault: " + str(err)
    out["reads"] = reads
except Exception as err:  # a reader that refuses the file is what the test must see
    out["exception"] = type(err).__name__ + ": " + str(err)
print(json.dumps(out))
