# Prints an ELF core's header, segments and notes as JSON, read by pyelftools, so tests can compare it with other readers.
import io
import json
import os
import sys

from elftools.elf.elffile import ELFFile
from elftools.common.utils import struct_parse
from elftools.elf.enums import ENUM_CORE_NOTE_N_TYPE, ENUM_NOTE_N_TYPE
from elftools.elf.notes import iter_notes

DESC_HEX_LIMIT = 4096
# pyelftools seeks before every header it reads, which empties a file's read buffer: read small files into memory.
IN_MEMORY_LIMIT = 64 << 20


def note_type_number(n_type, is_core):
    # pyelftools replaces known note types by their names; map them back so every reader is compared by number.
    if isinstance(n_type, int):
        return n_type
    table = ENUM_CORE_NOTE_N_TYPE if is_core else ENUM_NOTE_N_TYPE
    value = table.get(n_type)
    return value if isinstance(value, int) else None


def align4(n):
    return (n + 3) & ~3


def segment_notes(elf, offset, size, is_core, out):
    # pyelftools (0.29) raises ArrayError('missing terminator') on a note with n_namesz == 0 (the end-of-notes marker
    # and zero padding). Such a header is read with pyelftools' own Elf_Nhdr struct and stepped over, then its
    # iter_notes resumes behind it; the count is reported so a test can tell.
    pos, end = offset, offset + size
    while pos < end:
        try:
            for note in iter_notes(elf, pos, end - pos):
                pos = note['n_offset'] + 12 + align4(note['n_namesz']) + align4(note['n_descsz'])
                out['notes'].append(note_json(note, note['n_descdata'], is_core))
            return
        except Exception:
            if end - pos < 12:
                raise
            header = struct_parse(elf.structs.Elf_Nhdr, elf.stream, stream_pos=pos)
            if header['n_namesz'] != 0:
                raise
            elf.stream.seek(pos + 12)
            desc = elf.stream.read(header['n_descsz'])
            out['notes'].append(note_json({**header, 'n_name': '', 'n_offset': pos}, desc, is_core))
            out['emptyNameNotes'] += 1
            pos += 12 + align4(header['n_descsz'])


def note_json(note, desc, is_core):
    return {
        'n_name': note['n_name'],
        'n_type': note_type_number(note['n_type'], is_core),
        'n_type_name': str(note['n_type']),
        'n_descsz': note['n_descsz'],
        'n_offset': note['n_offset'],
        'desc': desc[:DESC_HEX_LIMIT].hex(),
    }


def dump(path, out):
    with open(path, 'rb') as f:
        stream = io.BytesIO(f.read()) if os.fstat(f.fileno()).st_size <= IN_MEMORY_LIMIT else f
        elf = ELFFile(stream)
        is_core = elf['e_type'] == 'ET_CORE'
        out['header'] = {
            'class': elf['e_ident']['EI_CLASS'],
            'data': elf['e_ident']['EI_DATA'],
            'type': elf['e_type'],
            'machine': elf['e_machine'],
            'phoff': str(elf['e_phoff']),
            'e_phnum': str(elf['e_phnum']),
            'phnum': str(elf.num_segments()),
            'shoff': str(elf['e_shoff']),
            'e_shnum': str(elf['e_shnum']),
        }
        for segment in elf.iter_segments():
            h = segment.header
            out['segments'].append({
                'type': h['p_type'] if isinstance(h['p_type'], str) else str(h['p_type']),
                **{k: str(h[k]) for k in ('p_offset', 'p_vaddr', 'p_paddr', 'p_filesz', 'p_memsz', 'p_flags', 'p_align')},
            })
            if h['p_type'] != 'PT_NOTE':
                continue
            segment_notes(elf, h['p_offset'], h['p_filesz'], is_core, out)


def main():
    out = {'file': sys.argv[1], 'header': None, 'segments': [], 'notes': [], 'emptyNameNotes': 0}
    try:
        dump(sys.argv[1], out)
    except Exception as e:  # the tests want to see what pyelftools rejected, not a traceback
        out['exception'] = '%s: %s' % (type(e).__name__, e)
    sys.stdout.write(json.dumps(out))


if __name__ == '__main__':
    main()
