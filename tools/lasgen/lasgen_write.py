"""lasgen_write - write generated documents safely.

Each file is written to a temporary name in the same directory and renamed
into place, so a LAS simulator that re-reads fixtures on every request never
serves half a document while a benchmark regenerates a school.
"""

import os


def write_documents(directory, documents):
    """Write {file name: text} into directory (UTF-8, LF); return {name: bytes}."""
    directory.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, text in documents.items():
        data = text.encode("utf-8")
        tmp = directory / f".{name}.tmp{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, directory / name)
        sizes[name] = len(data)
    return sizes
