#!/usr/bin/python3
# Test helper: reads a kdump file with libkdumpfile (python3-libkdumpfile) and prints JSON: format, VMCOREINFO, page hashes.
import hashlib, json, sys
import kdumpfile
from kdumpfile.exceptions import NoDataException

path, *pfns = sys.argv[1:]
k = kdumpfile.kdumpfile(path)
page_size = k.attr['arch.page_size']
out = {
    'format': k.attr['file.format'],
    'page_size': page_size,
    'osrelease': k.attr['linux.vmcoreinfo.lines']['OSRELEASE'],
    'crashtime': k.attr['linux.vmcoreinfo.lines'].get('CRASHTIME'),
    'pages': {},
}
for pfn in pfns:
    try:
        data = k.read(kdumpfile.KDUMP_MACHPHYSADDR, int(pfn, 0) * page_size, page_size)
        out['pages'][pfn] = hashlib.sha256(data).hexdigest()
    except NoDataException as e:
        out['pages'][pfn] = 'nodata: ' + str(e)
print(json.dumps(out))
